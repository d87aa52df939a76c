"""The CPU default face backend: dlib's HOG detector, 5-point landmarks and ResNet encoder.

The weights come from the ``face-recognition-models`` package on PyPI, so a fresh install
recognises faces with no download. That package's ``__init__`` imports ``pkg_resources``,
which new setuptools no longer ships, so the model files are located through the import
system without executing it. dlib itself is imported only when a backend is built.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from likeness.backends.base import (
    DetectedFace,
    LandmarkLayout,
    check_rgb_images,
    l2_normalise,
)

MODEL_KEY = "dlib/resnet-v1"
EMBEDDING_DIM = 128

# Cosine similarity of L2-normalised descriptors at or above which two faces are the same
# person. Measured on ../shared/data/faces with
#   .venv/bin/python -m likeness.calibrate ../shared/data/faces
# same person (3 Obama photos, 3 pairs): 0.954-0.982; different people (Obama vs Biden,
# 3 pairs): 0.811-0.828. 0.90 lies in that gap and is dlib's own documented threshold
# (Euclidean 0.6 on raw descriptors, 99.38% on LFW) carried over: raw descriptors have a
# norm of about 1.39 here, and 0.6 at that norm is a cosine of 1 - 0.36 / (2 * 1.39**2),
# about 0.907. Four photos cannot pin it closer; recalibrate on your own data.
DEFAULT_MATCH_THRESHOLD = 0.90

_SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
_RECOGNITION_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def packaged_model_dir() -> Path:
    """The ``models/`` folder of the installed face-recognition-models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the dlib face models are missing: install the face-recognition-models package "
            "(pip install face-recognition-models) or pass model_dir= to DlibFaceBackend"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibFaceBackend:
    """Detects faces with dlib's frontal HOG detector and embeds them with its ResNet.

    ``upsample_times`` lets the detector find smaller faces (each step doubles the image,
    and roughly quadruples detection time). Frames larger than ``detect_max_side`` are
    shrunk for detection only; landmarks and embeddings are computed on the full frame.
    """

    model_key: str = MODEL_KEY
    embedding_dim: int = EMBEDDING_DIM

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        default_match_threshold: float = DEFAULT_MATCH_THRESHOLD,
        upsample_times: int = 1,
        detect_max_side: int | None = 1024,
        num_jitters: int = 0,
    ) -> None:
        import dlib

        model_dir = Path(model_dir) if model_dir is not None else packaged_model_dir()
        paths = [model_dir / _SHAPE_PREDICTOR_FILE, model_dir / _RECOGNITION_MODEL_FILE]
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise RuntimeError(
                f"dlib model files not found: {', '.join(missing)}; reinstall "
                "face-recognition-models or point model_dir at a folder holding them"
            )
        self._dlib: Any = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape_predictor = dlib.shape_predictor(str(paths[0]))
        self._encoder = dlib.face_recognition_model_v1(str(paths[1]))
        self.default_match_threshold = default_match_threshold
        self.upsample_times = upsample_times
        self.detect_max_side = detect_max_side
        self.num_jitters = num_jitters

    def detect_and_embed(self, images: Sequence[np.ndarray]) -> list[list[DetectedFace]]:
        """Find and embed every face in each RGB uint8 image, one list per image."""
        check_rgb_images(images)
        images = [np.ascontiguousarray(image) for image in images]
        shapes_per_image = [self._detect_shapes(image) for image in images]
        with_faces = [i for i, shapes in enumerate(shapes_per_image) if shapes]
        descriptors: dict[int, np.ndarray] = {}
        if with_faces:
            batch_shapes = []
            for i in with_faces:
                detections = self._dlib.full_object_detections()
                for shape, _score in shapes_per_image[i]:
                    detections.append(shape)
                batch_shapes.append(detections)
            batch = self._encoder.compute_face_descriptor(
                [images[i] for i in with_faces],
                batch_shapes,
                self.num_jitters,
            )
            for i, per_image in zip(with_faces, batch, strict=True):
                descriptors[i] = l2_normalise(np.array([list(d) for d in per_image]))

        results: list[list[DetectedFace]] = []
        for i, shapes in enumerate(shapes_per_image):
            faces = []
            for k, (shape, score) in enumerate(shapes):
                rect = shape.rect
                landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
                faces.append(
                    DetectedFace(
                        box=(rect.left(), rect.top(), rect.right(), rect.bottom()),
                        landmarks=landmarks,
                        landmark_layout=LandmarkLayout.DLIB_5,
                        detection_score=float(score),
                        embedding=descriptors[i][k],
                    )
                )
            results.append(faces)
        return results

    def _detect_shapes(self, image: np.ndarray) -> list[tuple[Any, float]]:
        """Face rectangles (in full-frame pixels) with their landmarks and detector scores."""
        scale = 1.0
        detect_on = image
        longest = max(image.shape[:2])
        if self.detect_max_side is not None and longest > self.detect_max_side:
            from PIL import Image

            scale = self.detect_max_side / longest
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            detect_on = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        rects, scores, _sub_detectors = self._detector.run(detect_on, self.upsample_times, 0.0)
        shapes = []
        for rect, score in zip(rects, scores, strict=True):
            full = self._dlib.rectangle(
                round(rect.left() / scale),
                round(rect.top() / scale),
                round(rect.right() / scale),
                round(rect.bottom() / scale),
            )
            shapes.append((self._shape_predictor(image, full), float(score)))
        return shapes
