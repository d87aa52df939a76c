"""Face test data: the shared photos' folder, and synthetic landmarks of a turned head."""

import os
from pathlib import Path

import numpy as np

from likeness.backends.base import LandmarkLayout
from likeness.pose import CANONICAL_FACE_POINTS

FACES_DIR = Path(
    os.environ.get(
        "CLEARHOUSE_TEST_FACES_DIR",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "faces",
    )
)


def rotation(*, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Written out independently of pose.py: yaw about y, then pitch (up) about x, then roll."""
    y, p, r = np.radians([yaw, pitch, roll])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    # Looking up moves the nose (toward the camera, +z) up (+y).
    about_x = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    about_z = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return about_z @ about_x @ about_y


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
    rotated = face @ rotation(yaw=yaw, pitch=pitch, roll=roll).T
    focal_px = 800.0
    depth = distance_mm - rotated[:, 2]
    x = focal_px * rotated[:, 0] / depth + 640
    y = -focal_px * rotated[:, 1] / depth + 360
    return np.stack([x, y], axis=1) + rng.normal(0.0, 0.5, size=(5, 2))
