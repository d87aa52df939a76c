"""The GPU face backend: an SCRFD detector and an ArcFace recogniser as ONNX files.

The operator gives a model directory holding the two ONNX files (by default the names of
insightface's ``buffalo_l`` pack, ``det_10g.onnx`` and ``w600k_r50.onnx``). They run on
onnxruntime directly, on CUDA when the installed onnxruntime offers it, else on the CPU.
Pre- and post-processing follow insightface's published conventions (letterbox into the
detector's input, anchor-free distance decoding with two anchors per location, NMS,
five-point similarity alignment to the 112x112 ArcFace template), reimplemented in NumPy so
neither the ``insightface`` package nor OpenCV is needed and nothing is ever downloaded.

Licensing: insightface's published model weights (buffalo_l and the rest) are released for
non-commercial research only. Clearhouse ships no insightface weights; an operator brings
weights licensed for their use.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from likeness.backends.base import (
    DetectedFace,
    LandmarkLayout,
    check_rgb_images,
    l2_normalise,
)

DEFAULT_DETECTOR_FILE = "det_10g.onnx"
DEFAULT_RECOGNISER_FILE = "w600k_r50.onnx"

# Not measured here: no licensed ArcFace weights are on this machine. Cosine similarity
# around 0.4 is the usual operating point for the w600k_r50 recogniser; calibrate on your
# own data with `python -m likeness.calibrate --insightface-model-dir DIR` and pass
# default_match_threshold=.
DEFAULT_MATCH_THRESHOLD = 0.40

#: The five-point template that ArcFace crops are aligned to (insightface's arcface_dst),
#: in 112x112 pixels: right eye, left eye (subject's), nose tip, right and left mouth corner.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def select_providers(available: Sequence[str]) -> list[str]:
    """CUDA first when onnxruntime offers it, always with the CPU to fall back on."""
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def letterbox(image: np.ndarray, *, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a black (width, height) canvas.

    Returns the canvas and the scale from original pixels to canvas pixels.
    """
    from PIL import Image

    width, height = size
    if image.shape[0] / image.shape[1] > height / width:
        new_height = height
        new_width = int(new_height / (image.shape[0] / image.shape[1]))
    else:
        new_width = width
        new_height = int(new_width * (image.shape[0] / image.shape[1]))
    scale = new_height / image.shape[0]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    resized = Image.fromarray(image).resize((new_width, new_height), Image.Resampling.BILINEAR)
    canvas[:new_height, :new_width] = np.asarray(resized)
    return canvas, scale


def anchor_centres(*, height: int, width: int, stride: int, num_anchors: int) -> np.ndarray:
    """(x, y) of every anchor on a stride's feature map, row-major, anchors innermost."""
    ys, xs = np.mgrid[:height, :width]
    centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
    return np.repeat(centres, num_anchors, axis=0)


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float
) -> list[int]:
    """Indices of the boxes kept, best score first (insightface's +1 pixel area convention)."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(best))
        if rest.size == 0:
            break
        inter_w = np.maximum(
            0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1
        )
        inter_h = np.maximum(
            0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1
        )
        inter = inter_w * inter_h
        iou = inter / (areas[best] + areas[rest] - inter)
        order = list(rest[iou <= iou_threshold])
    return keep


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift; no reflection) taking ``source``
    points closest to ``target`` in the least-squares sense (Umeyama, 1991)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_c, target_c = source - source_mean, target - target_mean
    covariance = target_c.T @ source_c / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (source_c**2).sum() / len(source)
    scale = float(np.trace(np.diag(singular) @ sign) / variance) if variance > 0 else 1.0
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def warp_affine(image: np.ndarray, matrix: np.ndarray, *, size: tuple[int, int]) -> np.ndarray:
    """Warp ``image`` by the 2x3 ``matrix`` (source -> output pixels) into (width, height),
    sampling bilinearly with pixel centres at integer coordinates and black outside, as
    OpenCV's ``warpAffine`` does."""
    width, height = size
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[:height, :width].astype(np.float64)
    src_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    src_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    x0, y0 = np.floor(src_x).astype(int), np.floor(src_y).astype(int)
    fx, fy = (src_x - x0)[..., None], (src_y - y0)[..., None]
    padded = np.zeros((image.shape[0] + 2, image.shape[1] + 2, image.shape[2]), np.float64)
    padded[1:-1, 1:-1] = image
    # Shift into the padded frame and clamp: anything beyond the border reads the black pad.
    x0p = np.clip(x0 + 1, 0, padded.shape[1] - 1)
    x1p = np.clip(x0 + 2, 0, padded.shape[1] - 1)
    y0p = np.clip(y0 + 1, 0, padded.shape[0] - 1)
    y1p = np.clip(y0 + 2, 0, padded.shape[0] - 1)
    top = padded[y0p, x0p] * (1 - fx) + padded[y0p, x1p] * fx
    bottom = padded[y1p, x0p] * (1 - fx) + padded[y1p, x1p] * fx
    warped = top * (1 - fy) + bottom * fy
    return np.clip(np.rint(warped), 0, 255).astype(np.uint8)


def align_face(image: np.ndarray, landmarks: np.ndarray, *, size: int = 112) -> np.ndarray:
    """The ``size`` x ``size`` crop with the five landmarks on ArcFace's template."""
    template = ARCFACE_TEMPLATE_112 * (size / 112.0)
    matrix = similarity_transform(landmarks, template)
    return warp_affine(image, matrix, size=(size, size))


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


class InsightFaceBackend:
    """SCRFD + ArcFace on onnxruntime, from an operator-given model directory.

    ``model_key`` is ``insightface/<recogniser file stem>-<12 hex of its SHA-256>`` unless
    given, so templates from different weights are never compared.
    """

    embedding_dim: int

    def __init__(
        self,
        *,
        model_dir: Path,
        detector_file: str = DEFAULT_DETECTOR_FILE,
        recogniser_file: str = DEFAULT_RECOGNISER_FILE,
        default_match_threshold: float = DEFAULT_MATCH_THRESHOLD,
        detection_threshold: float = 0.5,
        nms_iou_threshold: float = 0.4,
        detector_input_size: tuple[int, int] = (640, 640),
        recogniser_mean: float = 127.5,
        recogniser_std: float = 127.5,
        max_batch: int = 32,
        model_key: str | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        import onnxruntime

        model_dir = Path(model_dir)
        detector_path, recogniser_path = model_dir / detector_file, model_dir / recogniser_file
        missing = [str(p) for p in (detector_path, recogniser_path) if not p.is_file()]
        if missing:
            raise RuntimeError(
                f"insightface model files not found: {', '.join(missing)}; put the SCRFD "
                "detector and ArcFace recogniser ONNX files there or name them with "
                "detector_file= and recogniser_file="
            )
        self.providers = (
            list(providers)
            if providers is not None
            else select_providers(onnxruntime.get_available_providers())
        )
        self._detector = onnxruntime.InferenceSession(str(detector_path), providers=self.providers)
        self._recogniser = onnxruntime.InferenceSession(
            str(recogniser_path), providers=self.providers
        )
        self.model_key = model_key or (
            f"insightface/{recogniser_path.stem}-{_file_digest(recogniser_path)}"
        )
        self.default_match_threshold = default_match_threshold
        self.detection_threshold = detection_threshold
        self.nms_iou_threshold = nms_iou_threshold
        self.recogniser_mean = recogniser_mean
        self.recogniser_std = recogniser_std
        self.max_batch = max_batch
        self._read_detector_signature(detector_input_size)
        self._read_recogniser_signature()

    def _read_detector_signature(self, fallback_size: tuple[int, int]) -> None:
        detector_input = self._detector.get_inputs()[0]
        self._detector_input_name = detector_input.name
        shape = detector_input.shape
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        # (width, height), as insightface writes it; a dynamic model uses the fallback.
        self.detector_input_size = (shape[3], shape[2]) if fixed else fallback_size
        self._detector_output_names = [output.name for output in self._detector.get_outputs()]
        count = len(self._detector_output_names)
        if count == 9:
            self._strides, self._num_anchors = (8, 16, 32), 2
        elif count == 15:
            self._strides, self._num_anchors = (8, 16, 32, 64, 128), 1
        else:
            raise RuntimeError(
                f"the detector has {count} outputs; expected an SCRFD model with keypoints "
                "(9 outputs, or 15 for five strides), such as det_10g.onnx"
            )

    def _read_recogniser_signature(self) -> None:
        recogniser_input = self._recogniser.get_inputs()[0]
        self._recogniser_input_name = recogniser_input.name
        shape = recogniser_input.shape
        self.recogniser_input_size = (
            (shape[3], shape[2]) if isinstance(shape[2], int) else (112, 112)
        )
        # A model exported with a fixed batch size is fed exactly that many (padded).
        self._recogniser_fixed_batch = isinstance(shape[0], int)
        self._recogniser_batch = shape[0] if isinstance(shape[0], int) else self.max_batch
        output_shape = self._recogniser.get_outputs()[0].shape
        if not isinstance(output_shape[-1], int):
            raise RuntimeError("the recogniser's output has no fixed embedding size")
        self.embedding_dim = output_shape[-1]

    def detect_and_embed(self, images: Sequence[np.ndarray]) -> list[list[DetectedFace]]:
        """Find and embed every face in each RGB uint8 image, one list per image."""
        check_rgb_images(images)
        detections = [self.detect(image) for image in images]
        crops = [
            align_face(image, landmarks, size=self.recogniser_input_size[0])
            for image, found in zip(images, detections, strict=True)
            for _box, landmarks, _score in found
        ]
        embeddings = self.embed_aligned(crops)
        results: list[list[DetectedFace]] = []
        position = 0
        for found in detections:
            faces = []
            for box, landmarks, score in found:
                left, top, right, bottom = (round(float(v)) for v in box)
                faces.append(
                    DetectedFace(
                        box=(left, top, right, bottom),
                        landmarks=landmarks.astype(np.float32),
                        landmark_layout=LandmarkLayout.ARCFACE_5,
                        detection_score=float(score),
                        embedding=embeddings[position],
                    )
                )
                position += 1
            results.append(faces)
        return results

    def detect(self, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """(box x1 y1 x2 y2, 5x2 landmarks, score) per face, in original image pixels."""
        canvas, scale = letterbox(image, size=self.detector_input_size)
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outputs = self._detector.run(self._detector_output_names, {self._detector_input_name: blob})
        boxes, landmarks, scores = self._decode(outputs, input_size=self.detector_input_size)
        if scores.size == 0:
            return []
        boxes, landmarks = boxes / scale, landmarks / scale
        keep = non_max_suppression(boxes, scores, iou_threshold=self.nms_iou_threshold)
        return [(boxes[k], landmarks[k], float(scores[k])) for k in keep]

    def _decode(
        self, outputs: list[np.ndarray], *, input_size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, landmarks and scores above the detection threshold, in canvas pixels."""
        width, height = input_size
        levels = len(self._strides)
        all_boxes, all_landmarks, all_scores = [], [], []
        for level, stride in enumerate(self._strides):
            # Batched exports add a leading batch axis of 1.
            scores = np.asarray(outputs[level]).reshape(-1)
            distances = np.asarray(outputs[level + levels]).reshape(-1, 4) * stride
            kps = np.asarray(outputs[level + 2 * levels]).reshape(-1, 10) * stride
            centres = anchor_centres(
                height=height // stride,
                width=width // stride,
                stride=stride,
                num_anchors=self._num_anchors,
            )
            if centres.shape[0] != scores.shape[0]:
                raise RuntimeError(
                    f"the detector's stride-{stride} output has {scores.shape[0]} rows, "
                    f"expected {centres.shape[0]} for a {width}x{height} input; check "
                    "detector_input_size against the model"
                )
            chosen = np.flatnonzero(scores >= self.detection_threshold)
            c = centres[chosen]
            d = distances[chosen]
            boxes = np.stack(
                [c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]],
                axis=1,
            )
            points = c[:, None, :] + kps[chosen].reshape(-1, 5, 2)
            all_boxes.append(boxes)
            all_landmarks.append(points)
            all_scores.append(scores[chosen])
        return (
            np.concatenate(all_boxes).astype(np.float64),
            np.concatenate(all_landmarks).astype(np.float64),
            np.concatenate(all_scores).astype(np.float64),
        )

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """L2-normalised embeddings (N, embedding_dim) of aligned RGB crops, in batches."""
        if not crops:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        batches = []
        for start in range(0, len(crops), self._recogniser_batch):
            chunk = np.stack(crops[start : start + self._recogniser_batch]).astype(np.float32)
            blob = ((chunk - self.recogniser_mean) / self.recogniser_std).transpose(0, 3, 1, 2)
            if self._recogniser_fixed_batch and len(chunk) < self._recogniser_batch:
                padding = np.zeros((self._recogniser_batch - len(chunk), *blob.shape[1:]))
                blob = np.concatenate([blob, padding.astype(np.float32)])
            output = self._recogniser.run(None, {self._recogniser_input_name: blob})[0]
            batches.append(np.asarray(output)[: len(chunk)].reshape(len(chunk), -1))
        return l2_normalise(np.concatenate(batches))

    @property
    def session_providers(self) -> list[str]:
        """The providers the detector session actually runs on."""
        return list(self._detector.get_providers())
