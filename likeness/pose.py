"""Head pose (yaw, pitch, roll) from five 2-D landmarks, and a coarse pose class.

The liveness challenge asks for a random sequence of head poses and checks that the frames
show them in order; this module says which pose a frame shows.

Pose is fitted with a weak-perspective camera: a canonical 3-D face (millimetres; x toward
the subject's left, y up, z toward the camera) is rotated, scaled and shifted to best match
the landmarks in the least-squares sense (Levenberg-Marquardt on six parameters). The
canonical points' x and y come from frontal 2-D templates (ArcFace's alignment template,
dlib's landmarks on frontal photos), so a face looking into the camera fits yaw = pitch = 0;
their depths are typical adult anthropometry. Five points cannot give exact angles: expect
a few degrees of error in yaw and up to about 15 in pitch for faces whose proportions differ
from the canonical one, which is why the classifier has a dead band between "frontal" and a
turn, and why :meth:`HeadPose.relative_to` measures a pose from the person's own frontal
frame.

Sign convention, in degrees:

- yaw > 0: the subject turned toward their own left (in an unmirrored frame the nose moves
  toward the image's right). yaw < 0: toward their own right.
- pitch > 0: the subject looks up (chin up); pitch < 0: looks down.
- roll > 0: the head turns counter-clockwise as seen in the image (the subject's left eye
  rises).

Frames from a front camera that mirrors its preview must be un-mirrored first, or left and
right swap.
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from likeness.backends.base import LandmarkLayout


class PoseClass(StrEnum):
    """A head pose a liveness challenge can ask for."""

    FRONTAL = "frontal"
    LEFT = "left"  # the subject's own left
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees (see the module docstring for signs) and the fit's residual.

    ``fit_error`` is the root-mean-square landmark residual as a fraction of the face's
    landmark spread; above about 0.15 the landmarks do not look like a face and the angles
    mean little.
    """

    yaw: float
    pitch: float
    roll: float
    fit_error: float

    def relative_to(self, neutral: "HeadPose") -> "HeadPose":
        """This pose measured from the same person's own frontal pose.

        A face whose proportions differ from the canonical one (a longer nose, wider-set
        eyes) reads as a few degrees turned, mostly in pitch, even when it looks straight at
        the camera; subtracting that person's frontal frame removes most of the bias, so a
        liveness challenge should classify poses relative to its first, frontal frame.
        """
        return HeadPose(
            yaw=self.yaw - neutral.yaw,
            pitch=self.pitch - neutral.pitch,
            roll=self.roll - neutral.roll,
            fit_error=self.fit_error,
        )


# Canonical 3-D points per layout, in the layout's landmark order (see LandmarkLayout).
# x, y: from frontal 2-D templates scaled to eye centres 62 mm apart; z: depth in mm
# relative to the inner eye corners, from adult anthropometric averages (outer eye corners
# 13 mm behind the inner ones, corneal apex 6 mm ahead, subnasale 17 mm and the nose tip
# 32 mm ahead, mouth corners 2 mm ahead).
CANONICAL_FACE_POINTS: dict[LandmarkLayout, np.ndarray] = {
    # dlib 5-point, x/y from the mean of frontal photos (inner/outer eye corner span 0.44,
    # subnasale 1.07 outer half-spans below the eye line).
    LandmarkLayout.DLIB_5: np.array(
        [
            [45.0, 0.0, -13.0],  # subject's left eye, outer corner
            [20.0, 0.0, 0.0],  # subject's left eye, inner corner
            [-45.0, 0.0, -13.0],  # subject's right eye, outer corner
            [-20.0, 0.0, 0.0],  # subject's right eye, inner corner
            [0.0, -48.0, 17.0],  # base of the nose (subnasale)
        ]
    ),
    # ArcFace's 112x112 alignment template (insightface's arcface_dst), 1.76 mm per pixel.
    LandmarkLayout.ARCFACE_5: np.array(
        [
            [-31.0, 0.0, 6.0],  # subject's right eye centre (corneal apex)
            [31.0, 0.0, 6.0],  # subject's left eye centre
            [0.0, -35.4, 32.0],  # nose tip
            [-25.7, -71.6, 2.0],  # subject's right mouth corner
            [25.7, -71.6, 2.0],  # subject's left mouth corner
        ]
    ),
}


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation (radians) applied to the canonical face: roll after pitch after yaw."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    # Looking up moves the nose (z > 0) toward +y, which is a rotation by -pitch about x.
    cp, sp = np.cos(-pitch), np.sin(-pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    about_y = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    about_z = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return about_z @ about_x @ about_y


def _project(params: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Weak-perspective image points (x right, y down) for (yaw, pitch, roll, s, tx, ty)."""
    yaw, pitch, roll, scale, tx, ty = params
    rotated = model @ _rotation(yaw, pitch, roll).T
    return np.stack([scale * rotated[:, 0] + tx, -scale * rotated[:, 1] + ty], axis=1)


def _fit(model: np.ndarray, points: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, float]:
    """Levenberg-Marquardt from ``start``; returns the parameters and the sum of squares."""
    params = start.copy()
    residual = (_project(params, model) - points).ravel()
    cost = float(residual @ residual)
    damping = 1e-3
    for _ in range(100):
        jacobian = np.empty((residual.size, params.size))
        for k in range(params.size):
            step = np.zeros_like(params)
            step[k] = 1e-6
            jacobian[:, k] = ((_project(params + step, model) - points).ravel() - residual) / 1e-6
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ residual
        delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-9), -gradient)
        trial = params + delta
        trial_residual = (_project(trial, model) - points).ravel()
        trial_cost = float(trial_residual @ trial_residual)
        if trial_cost < cost:
            converged = cost - trial_cost < 1e-12 * max(cost, 1e-12)
            params, residual, cost = trial, trial_residual, trial_cost
            damping = max(damping / 10, 1e-9)
            if converged or np.max(np.abs(delta)) < 1e-9:
                break
        else:
            damping *= 10
            if damping > 1e8:
                break
    return params, cost


def estimate_head_pose(landmarks: np.ndarray, *, layout: LandmarkLayout | str) -> HeadPose:
    """Fit yaw, pitch and roll (degrees) to five (x, y) landmarks in ``layout`` order."""
    layout = LandmarkLayout(layout)
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"expected 5 finite (x, y) landmarks, got an array of {points.shape}")
    model = CANONICAL_FACE_POINTS[layout]

    # Work in normalised coordinates so the damping and tolerances do not depend on pixels.
    centre = points.mean(axis=0)
    spread = float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    if spread <= 0:
        raise ValueError("the landmarks all sit on one point; they cannot be a face")
    normalised = (points - centre) / spread
    model_spread = float(np.sqrt(((model[:, :2] - model[:, :2].mean(0)) ** 2).sum(1).mean()))
    scale = 1.0 / model_spread

    # Roll guess from the line through the eyes, which both layouts list first.
    if layout is LandmarkLayout.DLIB_5:
        toward_subjects_left = normalised[:2].mean(0) - normalised[2:4].mean(0)
    else:
        toward_subjects_left = normalised[1] - normalised[0]
    roll_guess = float(np.arctan2(toward_subjects_left[1], toward_subjects_left[0]))
    # Start from several yaw/pitch guesses: a strongly turned face can trap a single start.
    best: tuple[np.ndarray, float] | None = None
    for yaw_guess in (-0.6, 0.0, 0.6):
        for pitch_guess in (-0.4, 0.0, 0.4):
            start = np.array([yaw_guess, pitch_guess, -roll_guess, scale, 0.0, 0.0])
            start[4:] = -(_project(start, model).mean(0))
            fitted = _fit(model, normalised, start)
            if best is None or fitted[1] < best[1]:
                best = fitted
    assert best is not None
    params, cost = best
    yaw, pitch, roll = (float(np.degrees(np.arctan2(np.sin(a), np.cos(a)))) for a in params[:3])
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, fit_error=float(np.sqrt(cost / 5)))


def classify_head_pose(
    pose: HeadPose,
    *,
    frontal_max_deg: float = 12.0,
    turn_min_deg: float = 20.0,
    tilt_min_deg: float = 15.0,
) -> PoseClass | None:
    """The pose a frame shows, or None when it is in between (neither clearly one nor another).

    Frontal: |yaw| and |pitch| both at most ``frontal_max_deg``. Left/right: |yaw| at least
    ``turn_min_deg``; up/down: |pitch| at least ``tilt_min_deg``; when both hold, the angle
    furthest past its threshold wins.
    """
    if abs(pose.yaw) <= frontal_max_deg and abs(pose.pitch) <= frontal_max_deg:
        return PoseClass.FRONTAL
    turn_margin = abs(pose.yaw) / turn_min_deg
    tilt_margin = abs(pose.pitch) / tilt_min_deg
    if turn_margin >= 1.0 and turn_margin >= tilt_margin:
        return PoseClass.LEFT if pose.yaw > 0 else PoseClass.RIGHT
    if tilt_margin >= 1.0:
        return PoseClass.UP if pose.pitch > 0 else PoseClass.DOWN
    return None
