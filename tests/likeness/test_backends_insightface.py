"""The SCRFD + ArcFace plumbing, on small ONNX models built here whose answers are known.

The detector stand-in has SCRFD's signature (one input, nine outputs: scores, box distances
and keypoint distances for strides 8, 16 and 32, two anchors per location). Its stride-32
score for a cell is the cell's mean red level mapped from [-1, 1] to [0, 1] (anchor 2 gets
0.9 of it), so a pure red 32x32 block in the detector's input is a face there; strides 8 and
16 find nothing. Box and keypoint distances are constants. The recogniser stand-in averages
8x8 pixel blocks and applies a fixed random projection to 512 numbers.
"""

import numpy as np
import onnxruntime
import pytest
from insightface_stand_ins import PROJECTION, build_detector, build_recogniser

from likeness.backends import FaceBackend, InsightFaceBackend, LandmarkLayout
from likeness.backends.arcface_crops import ARCFACE_TEMPLATE_112, similarity_transform
from likeness.backends.insightface_backend import select_providers
from likeness.backends.scrfd import non_max_suppression


def expected_embedding(crop: np.ndarray) -> np.ndarray:
    """What the recogniser stand-in should give for an aligned 112x112 RGB crop."""
    blob = ((crop.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)
    pooled = blob.reshape(3, 14, 8, 14, 8).mean(axis=(2, 4)).reshape(-1)
    embedding = pooled @ PROJECTION
    return embedding / np.linalg.norm(embedding)


def black_frame_with_noise(*, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Black in red (no face anywhere), random in green and blue."""
    frame = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame[..., 0] = 0
    return frame


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("insightface")
    build_detector(folder / "det_10g.onnx")
    build_recogniser(folder / "w600k_r50.onnx")
    return folder


@pytest.fixture(scope="module")
def backend(model_dir):
    return InsightFaceBackend(model_dir=model_dir)


def test_backend_reads_its_signature_from_the_models(backend):
    assert isinstance(backend, FaceBackend)
    assert backend.embedding_dim == 512
    assert backend.detector_input_size == (640, 640)
    assert backend.model_key.startswith("insightface/w600k_r50-")


def test_providers_fall_back_to_the_cpu_without_cuda(backend):
    assert select_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert select_providers(["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert backend.providers == ["CPUExecutionProvider"]
        assert backend.session_providers == ["CPUExecutionProvider"]


def test_face_is_found_where_it_is_in_the_original_image(backend):
    # 1280x960 letterboxes into 640x480 at scale 0.5; the red block at x 640-703, y 320-383
    # becomes the stride-32 cell in column 10, row 5, whose anchor centre is (320, 160).
    frame = black_frame_with_noise(width=1280, height=960)
    frame[320:384, 640:704, 0] = 255
    (faces,) = backend.detect_and_embed([frame])
    assert len(faces) == 1  # the second anchor's duplicate box was suppressed
    face = faces[0]
    assert face.box == (576, 256, 704, 384)  # centre +- 1 stride, back at scale 2
    assert face.detection_score == pytest.approx((255 - 127.5) / 128 / 2 + 0.5, abs=0.03)
    offsets = np.array([-0.3, -0.2, 0.3, -0.2, 0.0, 0.1, -0.25, 0.4, 0.25, 0.4]).reshape(5, 2)
    np.testing.assert_allclose(face.landmarks, (np.array([320, 160]) + offsets * 32) * 2, atol=1e-3)
    assert face.landmark_layout is LandmarkLayout.ARCFACE_5
    assert face.embedding.shape == (512,) and face.embedding.dtype == np.float32
    assert float(np.linalg.norm(face.embedding)) == pytest.approx(1.0, abs=1e-5)


def test_green_or_blue_blocks_are_not_faces_so_channels_are_in_rgb_order(backend):
    frame = np.zeros((640, 640, 3), dtype=np.uint8)
    frame[0:64, 0:64, 1] = 255
    frame[128:192, 128:192, 2] = 255
    assert backend.detect_and_embed([frame]) == [[]]


def test_overlapping_detections_keep_the_strongest(tmp_path):
    build_detector(tmp_path / "det_10g.onnx", box_distances=(2.0, 2.0, 2.0, 2.0))
    build_recogniser(tmp_path / "w600k_r50.onnx")
    backend = InsightFaceBackend(model_dir=tmp_path)
    frame = black_frame_with_noise(width=640, height=640)
    frame[64:96, 64:96, 0] = 200  # cell (2, 2): weaker
    frame[64:96, 96:128, 0] = 255  # cell (3, 2): stronger, boxes overlap by half
    frame[320:352, 480:512, 0] = 255  # cell (15, 10): far away
    (faces,) = backend.detect_and_embed([frame])
    centres = sorted(((f.box[0] + f.box[2]) // 2, (f.box[1] + f.box[3]) // 2) for f in faces)
    assert centres == [(96, 64), (480, 320)]


def test_aligned_crop_and_embedding_match_a_hand_computed_one(tmp_path):
    # Keypoints placed at twice the ArcFace template plus (100, 60): the aligned crop is then
    # exactly every second pixel from there, and its embedding can be computed by hand.
    frame = black_frame_with_noise(width=640, height=640, seed=3)
    frame[320:352, 320:352, 0] = 255  # the face: cell (10, 10), anchor centre (320, 320)
    target = ARCFACE_TEMPLATE_112 * 2 + np.array([100.0, 60.0])
    offsets = ((target - 320.0) / 32.0).reshape(-1)
    build_detector(tmp_path / "det_10g.onnx", keypoint_offsets=offsets)
    build_recogniser(tmp_path / "w600k_r50.onnx")
    (faces,) = InsightFaceBackend(model_dir=tmp_path).detect_and_embed([frame])
    assert len(faces) == 1
    crop = frame[60 : 60 + 224 : 2, 100 : 100 + 224 : 2]
    np.testing.assert_allclose(faces[0].embedding, expected_embedding(crop), atol=2e-4)


def test_batches_give_the_same_embeddings_as_one_at_a_time(tmp_path, model_dir):
    frames = []
    for seed, (x, y) in enumerate([(64, 64), (320, 192), (480, 416)]):
        frame = black_frame_with_noise(width=640, height=640, seed=seed)
        frame[y : y + 32, x : x + 32, 0] = 255
        frame[416:448, 96:128, 0] = 255  # a second face in each frame
        frames.append(frame)
    batched = InsightFaceBackend(model_dir=model_dir, max_batch=4).detect_and_embed(frames)
    build_detector(tmp_path / "det_10g.onnx")
    build_recogniser(tmp_path / "w600k_r50.onnx", batch=1)
    fixed_batch_of_one = InsightFaceBackend(model_dir=tmp_path)
    for frame, faces in zip(frames, batched, strict=True):
        assert len(faces) == 2
        (alone,) = fixed_batch_of_one.detect_and_embed([frame])
        for together, single in zip(faces, alone, strict=True):
            assert together.box == single.box
            np.testing.assert_allclose(together.embedding, single.embedding, atol=1e-5)


def test_dynamic_input_detector_uses_the_configured_size(tmp_path):
    build_detector(tmp_path / "det.onnx", dynamic_input=True)
    build_recogniser(tmp_path / "rec.onnx")
    backend = InsightFaceBackend(
        model_dir=tmp_path,
        detector_file="det.onnx",
        recogniser_file="rec.onnx",
        detector_input_size=(320, 320),
    )
    assert backend.detector_input_size == (320, 320)
    frame = black_frame_with_noise(width=640, height=640)
    frame[128:192, 256:320, 0] = 255  # at scale 0.5: cell (4, 2), centre (128, 64)
    (faces,) = backend.detect_and_embed([frame])
    assert [f.box for f in faces] == [(192, 64, 320, 192)]


def test_model_key_changes_with_the_weights(tmp_path, backend):
    build_detector(tmp_path / "det_10g.onnx")
    build_recogniser(tmp_path / "w600k_r50.onnx", batch=1)
    other = InsightFaceBackend(model_dir=tmp_path)
    assert other.model_key != backend.model_key
    assert InsightFaceBackend(model_dir=tmp_path, model_key="acme/v2").model_key == "acme/v2"


def test_missing_files_and_wrong_models_are_explained(tmp_path):
    with pytest.raises(RuntimeError, match="detector_file="):
        InsightFaceBackend(model_dir=tmp_path)
    build_detector(tmp_path / "det_10g.onnx", drop_keypoints=True)
    build_recogniser(tmp_path / "w600k_r50.onnx")
    with pytest.raises(RuntimeError, match="SCRFD model with keypoints"):
        InsightFaceBackend(model_dir=tmp_path)


def test_similarity_transform_recovers_a_known_one():
    angle, scale, shift = np.radians(20), 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = ARCFACE_TEMPLATE_112
    target = source @ (scale * rotation).T + shift
    matrix = similarity_transform(source, target)
    np.testing.assert_allclose(matrix, np.hstack([scale * rotation, shift[:, None]]), atol=1e-9)


def test_non_max_suppression():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=float)
    assert non_max_suppression(boxes, np.array([0.8, 0.9, 0.7]), iou_threshold=0.4) == [1, 2]
    assert non_max_suppression(boxes, np.array([0.8, 0.9, 0.7]), iou_threshold=0.9) == [1, 0, 2]
