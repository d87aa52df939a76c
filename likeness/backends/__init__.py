"""Face backends: detect, align and embed faces in RGB frames.

Importing this package loads neither dlib nor onnxruntime; each backend imports its engine
when it is built.
"""

from functools import cache
from pathlib import Path

from likeness.backends.base import DetectedFace, FaceBackend, LandmarkLayout
from likeness.backends.dlib_backend import DlibFaceBackend
from likeness.backends.insightface_backend import InsightFaceBackend


@cache
def load_backend(name: str, model_dir: Path | None) -> FaceBackend:
    """One backend per process and configuration: models are large and read-only.

    ``name`` is ``CLEARHOUSE_FACE_BACKEND``: "dlib" (weights from PyPI) or "insightface"
    (from ``model_dir``). The API process never calls this: media workers do
    (likeness.media_workers), and the calibration script."""
    if name == "insightface":
        if model_dir is None:
            raise ValueError(
                "CLEARHOUSE_FACE_BACKEND=insightface needs CLEARHOUSE_INSIGHTFACE_MODEL_DIR: "
                "the folder holding the SCRFD and ArcFace ONNX files"
            )
        return InsightFaceBackend(model_dir=model_dir)
    return DlibFaceBackend()


__all__ = [
    "DetectedFace",
    "DlibFaceBackend",
    "FaceBackend",
    "InsightFaceBackend",
    "LandmarkLayout",
    "load_backend",
]
