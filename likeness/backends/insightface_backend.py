"""The GPU face backend: an SCRFD detector and an ArcFace recogniser as ONNX files.

The operator gives a model directory holding the two ONNX files (by default the names of
insightface's ``buffalo_l`` pack, ``det_10g.onnx`` and ``w600k_r50.onnx``). They run on
onnxruntime directly, on CUDA when the installed onnxruntime offers it, else on the CPU.
This module holds the sessions: finding the files, choosing providers, reading each model's
signature and running it. The array geometry around them follows insightface's published
conventions, reimplemented in NumPy so neither the ``insightface`` package nor OpenCV is
needed and nothing is ever downloaded: the detector's side (letterbox, anchor decoding, NMS)
in ``scrfd.py``, the recogniser's (five-point alignment to the 112x112 ArcFace template) in
``arcface_crops.py``.

Licensing: insightface's published model weights (buffalo_l and the rest) are released for
non-commercial research only. Clearhouse ships no insightface weights; an operator brings
weights licensed for their use.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from likeness.backends.arcface_crops import align_face, recogniser_blob
from likeness.backends.base import (
    DetectedFace,
    LandmarkLayout,
    check_rgb_images,
    l2_normalise,
)
from likeness.backends.scrfd import detected_faces, detector_blob, letterbox, scrfd_layout

DEFAULT_DETECTOR_FILE = "det_10g.onnx"
DEFAULT_RECOGNISER_FILE = "w600k_r50.onnx"

# Not measured here: no licensed ArcFace weights are on this machine. Cosine similarity
# around 0.4 is the usual operating point for the w600k_r50 recogniser; calibrate on your
# own data with `python -m likeness.calibrate --insightface-model-dir DIR` and pass
# default_match_threshold=.
DEFAULT_MATCH_THRESHOLD = 0.40


def select_providers(available: Sequence[str]) -> list[str]:
    """CUDA first when onnxruntime offers it, always with the CPU to fall back on."""
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


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
        self._layout = scrfd_layout(len(self._detector_output_names))

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
        outputs = self._detector.run(
            self._detector_output_names, {self._detector_input_name: detector_blob(canvas)}
        )
        return detected_faces(
            outputs,
            layout=self._layout,
            input_size=self.detector_input_size,
            scale=scale,
            detection_threshold=self.detection_threshold,
            nms_iou_threshold=self.nms_iou_threshold,
        )

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """L2-normalised embeddings (N, embedding_dim) of aligned RGB crops, in batches."""
        if not crops:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        batches = []
        for start in range(0, len(crops), self._recogniser_batch):
            chunk = crops[start : start + self._recogniser_batch]
            blob = recogniser_blob(
                chunk,
                mean=self.recogniser_mean,
                std=self.recogniser_std,
                pad_to=self._recogniser_batch if self._recogniser_fixed_batch else None,
            )
            output = self._recogniser.run(None, {self._recogniser_input_name: blob})[0]
            batches.append(np.asarray(output)[: len(chunk)].reshape(len(chunk), -1))
        return l2_normalise(np.concatenate(batches))

    @property
    def session_providers(self) -> list[str]:
        """The providers the detector session actually runs on."""
        return list(self._detector.get_providers())
