"""The dlib backend on real photos: one face each, same person matches, others do not."""

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from likeness.backends import DlibFaceBackend, FaceBackend, LandmarkLayout
from likeness.calibrate import person_of


def test_backend_satisfies_the_protocol(dlib_backend):
    assert isinstance(dlib_backend, FaceBackend)
    assert dlib_backend.model_key == "dlib/resnet-v1"
    assert dlib_backend.embedding_dim == 128


def test_each_photo_has_one_face_with_landmarks_inside_its_box(dlib_faces, face_photos):
    for name, faces in dlib_faces.items():
        assert len(faces) == 1, name
        face = faces[0]
        left, top, right, bottom = face.box
        assert right - left > 150 and bottom - top > 150, name
        assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
        assert face.landmark_layout is LandmarkLayout.DLIB_5
        xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
        assert (xs >= left).all() and (xs <= right).all(), name
        assert (ys >= top).all() and (ys <= bottom).all(), name
        # Layout: the subject's left eye (points 0-1) is on the image's right.
        assert face.landmarks[:2, 0].mean() > face.landmarks[2:4, 0].mean()
        # The nose is below the eyes.
        assert face.landmarks[4, 1] > face.landmarks[:4, 1].max()
        assert face.detection_score > 0


def test_embeddings_are_unit_length_float32(dlib_faces):
    for faces in dlib_faces.values():
        embedding = faces[0].embedding
        assert embedding.shape == (128,) and embedding.dtype == np.float32
        assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5


def test_same_person_matches_and_different_people_do_not(dlib_faces, dlib_backend):
    threshold = dlib_backend.default_match_threshold
    for first, second in itertools.combinations(sorted(dlib_faces), 2):
        similarity = float(dlib_faces[first][0].embedding @ dlib_faces[second][0].embedding)
        if person_of(Path(first)) == person_of(Path(second)):
            assert similarity >= threshold, (first, second, similarity)
        else:
            assert similarity < threshold, (first, second, similarity)


def test_batched_call_gives_the_same_faces_as_single_calls(dlib_backend, dlib_faces, face_photos):
    single = dlib_backend.detect_and_embed([face_photos["biden.jpg"]])[0]
    assert len(single) == 1
    assert single[0].box == dlib_faces["biden.jpg"][0].box
    np.testing.assert_allclose(single[0].embedding, dlib_faces["biden.jpg"][0].embedding, atol=1e-6)


def test_frame_without_a_face_gives_an_empty_list(dlib_backend, face_photos):
    blank = np.full((240, 320, 3), 127, dtype=np.uint8)
    results = dlib_backend.detect_and_embed([blank, face_photos["obama.jpg"]])
    assert results[0] == []
    assert len(results[1]) == 1


def test_two_faces_in_one_frame_are_both_found_and_told_apart(
    dlib_backend, face_photos, dlib_faces
):
    obama, biden = face_photos["obama.jpg"], face_photos["biden.jpg"][:1137, :910]
    both = np.concatenate([obama, biden], axis=1)
    faces = sorted(dlib_backend.detect_and_embed([both])[0], key=lambda face: face.box[0])
    assert len(faces) == 2
    assert faces[1].box[0] >= obama.shape[1]  # the second face is in the right half
    threshold = dlib_backend.default_match_threshold
    assert float(faces[0].embedding @ dlib_faces["obama.jpg"][0].embedding) >= threshold
    assert float(faces[1].embedding @ dlib_faces["biden.jpg"][0].embedding) >= threshold


def test_rejects_frames_that_are_not_rgb_uint8(dlib_backend):
    with pytest.raises(ValueError, match="uint8"):
        dlib_backend.detect_and_embed([np.zeros((10, 10, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        dlib_backend.detect_and_embed([np.zeros((10, 10), dtype=np.uint8)])


def test_importing_likeness_modules_loads_no_heavy_engine():
    code = (
        "import sys, likeness.backends, clearhouse.media, likeness.pose, likeness.quality, "
        "likeness.calibrate\n"
        "heavy = [m for m in ('dlib', 'onnxruntime', 'av', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_model_files_are_reported_with_what_to_do(tmp_path):
    with pytest.raises(RuntimeError, match="face-recognition-models"):
        DlibFaceBackend(model_dir=tmp_path)
