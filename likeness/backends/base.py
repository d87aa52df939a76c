"""What every face backend gives the rest of likeness/: detect, align, embed, batched.

A backend turns RGB frames into :class:`DetectedFace` records. Embeddings are L2-normalised,
so the cosine similarity of two faces is their dot product. An embedding is only meaningful
next to embeddings of the same ``model_key``: templates record it and the face index never
compares across keys.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np


class LandmarkLayout(StrEnum):
    """Which five points a backend's landmarks are, in which order.

    "Subject's left" is the person's own left, which is the image's right in an unmirrored
    photo.
    """

    #: dlib's 5-point shape predictor: subject's left eye outer corner, its inner corner,
    #: subject's right eye outer corner, its inner corner, base of the nose (subnasale).
    DLIB_5 = "dlib-5"
    #: SCRFD / ArcFace five points: subject's right eye centre (image left), subject's left
    #: eye centre, nose tip, subject's right mouth corner, subject's left mouth corner.
    ARCFACE_5 = "arcface-5"


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face found in one frame, with its embedding.

    ``box`` is (left, top, right, bottom) in pixels of the frame it came from; it may reach
    past the frame's edges when the face is cut off. ``landmarks`` is a float32 array of
    shape (5, 2) of (x, y) pixels, ordered as ``landmark_layout`` says. ``detection_score``
    is the detector's own confidence, comparable only within one backend.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    landmark_layout: LandmarkLayout
    detection_score: float
    embedding: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@runtime_checkable
class FaceBackend(Protocol):
    """A face detector and recogniser.

    ``model_key`` names the backend and its weights (e.g. ``"dlib/resnet-v1"``);
    ``default_match_threshold`` is the cosine similarity at or above which two of its
    embeddings are taken to be the same person.
    """

    model_key: str
    embedding_dim: int
    default_match_threshold: float

    def detect_and_embed(self, images: Sequence[np.ndarray]) -> list[list[DetectedFace]]:
        """Find and embed every face in each RGB uint8 HxWx3 image, one list per image."""
        ...


def check_rgb_images(images: Sequence[np.ndarray]) -> None:
    """Raise ValueError naming the first image that is not an RGB uint8 HxWx3 array."""
    for position, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise ValueError(
                f"image {position} must be a numpy uint8 array; decode media with "
                "clearhouse.media first"
            )
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(
                f"image {position} has shape {image.shape}; pass RGB frames of shape (H, W, 3)"
            )


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
