"""Face backends: detect, align and embed faces in RGB frames.

Importing this package loads neither dlib nor onnxruntime; each backend imports its engine
when it is built.
"""

from likeness.backends.base import DetectedFace, FaceBackend, LandmarkLayout
from likeness.backends.dlib_backend import DlibFaceBackend
from likeness.backends.insightface_backend import InsightFaceBackend

__all__ = [
    "DetectedFace",
    "DlibFaceBackend",
    "FaceBackend",
    "InsightFaceBackend",
    "LandmarkLayout",
]
