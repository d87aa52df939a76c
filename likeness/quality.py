"""Is a detected face good enough to enrol or to match: big enough, and in focus?

Sharpness is the variance of the Laplacian of the face crop in grayscale, after resizing
the crop to a fixed side so the number does not depend on the photo's resolution. Blur
removes the fine detail the Laplacian responds to, so a blurred or smeared face scores low.
"""

from dataclasses import dataclass

import numpy as np

from likeness.backends.base import DetectedFace

#: Side, in pixels, that face crops are resized to before measuring sharpness.
SHARPNESS_CROP_SIDE = 112

# Measured with the dlib backend's boxes on the four photos in ../shared/data/faces:
# as taken they score 237-460; blurred with a Gaussian of radius 1% of the face width,
# 25-43; 2%, 5-8; 4%, 2-3. 40 rejects the 2% blur with a wide margin and accepts sharp
# professional photos sixfold over; webcam frames are softer, so lower it before raising it.
DEFAULT_MIN_SHARPNESS = 40.0
DEFAULT_MIN_FACE_PX = 80


@dataclass(frozen=True)
class FaceQuality:
    """The measurements and, when the face is not usable, why (``reason`` is None if it is)."""

    face_px: int
    sharpness: float
    reason: str | None

    @property
    def acceptable(self) -> bool:
        return self.reason is None


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a 2-D grayscale array (edges excluded)."""
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2 or min(gray.shape) < 3:
        raise ValueError(f"need a 2-D grayscale array of at least 3x3, got shape {gray.shape}")
    laplacian = (
        gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1]
    )
    return float(laplacian.var())


def face_sharpness(image: np.ndarray, *, box: tuple[int, int, int, int]) -> float:
    """Laplacian variance of the face's crop, grayscale, resized to SHARPNESS_CROP_SIDE."""
    from PIL import Image

    left, top, right, bottom = box
    height, width = image.shape[:2]
    left, top = max(0, left), max(0, top)
    right, bottom = min(width, right), min(height, bottom)
    if right - left < 3 or bottom - top < 3:
        return 0.0
    crop = Image.fromarray(np.ascontiguousarray(image[top:bottom, left:right])).convert("L")
    side = SHARPNESS_CROP_SIDE
    resized = crop.resize((side, side), Image.Resampling.BILINEAR)
    return laplacian_variance(np.asarray(resized))


def assess_face_quality(
    image: np.ndarray,
    face: DetectedFace,
    *,
    min_face_px: int = DEFAULT_MIN_FACE_PX,
    min_sharpness: float = DEFAULT_MIN_SHARPNESS,
) -> FaceQuality:
    """Measure a face's size (the shorter side of its box) and sharpness, and judge them."""
    face_px = min(face.width, face.height)
    sharpness = face_sharpness(image, box=face.box)
    reason = None
    if face_px < min_face_px:
        reason = (
            f"the face is {face_px} px across, smaller than {min_face_px} px; move closer to "
            "the camera or use a higher resolution"
        )
    elif sharpness < min_sharpness:
        reason = (
            f"the face is blurred (sharpness {sharpness:.0f}, need {min_sharpness:.0f}); hold "
            "the camera still, focus on the face and use more light"
        )
    return FaceQuality(face_px=face_px, sharpness=sharpness, reason=reason)
