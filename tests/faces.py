"""Face test data: the shared photos' folder, synthetic landmarks of a turned head, and the
plane warps an attacker applies to one frontal photo to fake a turn."""

import os
from pathlib import Path

import numpy as np

from likeness.backends.base import LandmarkLayout
from likeness.parallax import DENSE_FACE_POINTS
from likeness.pose import CANONICAL_FACE_POINTS

FACES_DIR = Path(
    os.environ.get(
        "CLEARHOUSE_TEST_FACES_DIR",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "faces",
    )
)


# (yaw, pitch) in degrees of real head turns the liveness check must accept.
REAL_TURNS = [(yaw, 0) for yaw in (-45, -35, -25, -20, 20, 25, 35, 45)] + [
    (0, 15),
    (0, 20),
    (0, 30),
    (10, 18),
    (25, 10),
]


def rotation(*, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Written out independently of pose.py: yaw about y, then pitch (up) about x, then roll."""
    y, p, r = np.radians([yaw, pitch, roll])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    # Looking up moves the nose (toward the camera, +z) up (+y).
    about_x = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    about_z = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return about_z @ about_x @ about_y


def _photographed(
    points: np.ndarray, *, distance_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """3-D points (mm, head-centred) through a pinhole camera (focal length 800 px, image
    centre 640, 360) ``distance_mm`` away, with half a pixel of landmark noise."""
    focal_px = 800.0
    depth = distance_mm - points[:, 2]
    x = focal_px * points[:, 0] / depth + 640
    y = -focal_px * points[:, 1] / depth + 360
    return np.stack([x, y], axis=1) + rng.normal(0.0, 0.5, size=(len(points), 2))


def synthetic_landmarks(
    *,
    layout: LandmarkLayout,
    yaw: float,
    pitch: float,
    roll: float = 0.0,
    seed: int = 0,
    distance_mm: float = 500.0,
) -> np.ndarray:
    """A face unlike the canonical one (wider or narrower, taller, deeper by up to 8%, and
    each point off by up to 2% more), rotated and seen through a pinhole camera half a metre
    away, with half a pixel of landmark noise."""
    rng = np.random.default_rng(seed)
    proportions = rng.uniform(0.92, 1.08, size=3)
    face = CANONICAL_FACE_POINTS[layout] * proportions * rng.uniform(0.98, 1.02, size=(5, 3))
    return _photographed(
        face @ rotation(yaw=yaw, pitch=pitch, roll=roll).T, distance_mm=distance_mm, rng=rng
    )


def synthetic_rigid_landmarks(
    *,
    yaw: float,
    pitch: float,
    roll: float = 0.0,
    seed: int = 0,
    distance_mm: float = 500.0,
) -> np.ndarray:
    """dlib's 51 brow, nose, eye and lip landmarks (17-67) of a head turned by known angles.

    As :func:`synthetic_landmarks`: a face unlike the canonical one (proportions off by up
    to 8%, each point by up to 2% more and its depth by up to 3 mm), through a pinhole
    camera half a metre away, with half a pixel of landmark noise.
    """
    rng = np.random.default_rng(seed)
    face = DENSE_FACE_POINTS * rng.uniform(0.92, 1.08, size=3)
    face = face * rng.uniform(0.98, 1.02, size=face.shape)
    face[:, 2] += rng.uniform(-3.0, 3.0, size=len(face))
    return _photographed(
        face @ rotation(yaw=yaw, pitch=pitch, roll=roll).T, distance_mm=distance_mm, rng=rng
    )


def plane_warp(
    centre: tuple[float, float],
    *,
    shear: float = 0.0,
    squeeze: float = 1.0,
    perspective: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """A homography about ``centre`` (pixels): x += shear * y, y *= squeeze, then a
    perspective tilt (``perspective`` is the change of the projective divisor per pixel in
    x and y), what an attacker does to one frontal photo to fake a turn."""
    cx, cy = centre
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], dtype=np.float64)
    affine = np.array([[1, shear, 0], [0, squeeze, 0], [0, 0, 1]], dtype=np.float64)
    tilt = np.array([[1, 0, 0], [0, 1, 0], [perspective[0], perspective[1], 1]])
    return back @ tilt @ affine @ to_centre


def warp_photo(rgb: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """``rgb`` moved by ``homography`` (source pixel to output pixel) on a canvas its size."""
    from PIL import Image

    inverse = np.linalg.inv(homography)
    inverse = inverse / inverse[2, 2]
    height, width = rgb.shape[:2]
    warped = Image.fromarray(rgb).transform(
        (width, height),
        Image.Transform.PERSPECTIVE,
        tuple(inverse.ravel()[:8]),
        Image.Resampling.BICUBIC,
    )
    return np.asarray(warped)


def crop_to_face(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A 480x600 picture of the face in ``box``, 200 pixels wide, centred (black past the
    photo's edges): every photo at one scale, so one grid of warps suits them all."""
    from PIL import Image

    left, top, right, bottom = box
    scale = 200 / (right - left)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half_w, half_h = 240 / scale, 300 / scale
    region = (round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h))
    cropped = Image.fromarray(rgb).crop(region).resize((480, 600), Image.Resampling.BICUBIC)
    return np.asarray(cropped)


# Warps of one frontal photo (arguments of plane_warp) over a range of strengths: shears
# sideways (fake left and right), vertical squeezes (fake up), perspective tilts, and the
# two combined. On crop_to_face pictures a perspective of 0.001 per pixel shrinks the face's
# far side by about a fifth.
WARPS: list[dict] = (
    [{"shear": sign * s / 100} for s in range(20, 61, 5) for sign in (1, -1)]
    + [{"squeeze": q / 100} for q in range(55, 86, 5)]
    + [{"perspective": (p, 0.0)} for p in (-0.002, -0.001, 0.001, 0.002)]
    + [{"perspective": (0.0, p)} for p in (-0.002, -0.001, 0.001, 0.002)]
    + [
        {"shear": s, "perspective": (p, 0.0)}
        for s in (-0.45, -0.3, 0.3, 0.45)
        for p in (-0.001, 0.001)
    ]
    + [{"squeeze": q, "perspective": (0.0, p)} for q in (0.65, 0.75) for p in (-0.001, 0.001)]
)
