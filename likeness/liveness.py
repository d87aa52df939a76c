"""The liveness challenge: a random sequence of head poses the frames must show, in order,
shown by a head that turns in depth, continuously.

A replayed photo cannot turn its head when asked. The challenge always starts frontal (that
frame is the person's own reference: poses after it are measured relative to it, which
removes most of the bias of a face whose proportions differ from the canonical model),
then asks for left, right and up in a random order.

A photo sheared, squeezed or tilted in perspective can fool the pose estimate, so every
frame that shows a turn must also show parallax against the frontal frame (see
likeness.parallax): the nose moving against the eyes and mouth as a head's does, which no
plane transform of a flat picture produces. Consecutive frames of one video must follow on
from each other: a slideshow of stills jumps from pose to pose.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np

from likeness.backends.base import DetectedFace
from likeness.flat_warp import plane_prediction_similarity
from likeness.parallax import locate_rigid_landmarks, measure_parallax
from likeness.pose import HeadPose, PoseClass, classify_head_pose, estimate_head_pose

TURNS = (PoseClass.LEFT, PoseClass.RIGHT, PoseClass.UP)
MAX_FIT_ERROR = 0.15  # above this the landmarks do not look like a face (see pose.HeadPose)

# Which way (x right, y down) the nose moves against the face's plane in each turn: a
# subject turning to their own left moves it toward the image's right.
PARALLAX_DIRECTIONS: dict[PoseClass, np.ndarray] = {
    PoseClass.LEFT: np.array([1.0, 0.0]),
    PoseClass.RIGHT: np.array([-1.0, 0.0]),
    PoseClass.UP: np.array([0.0, -1.0]),
    PoseClass.DOWN: np.array([0.0, 1.0]),
}
# Parallax along the turn's direction, divided by the sine of the turn the pose estimate
# reads, must reach this. Measured with `python bench/liveness.py`: real turns of synthetic
# heads (tests/faces.py; 20 face shapes, 20-45 degrees of yaw, 15-30 of pitch) give 0.105 at
# the least (0.17-0.21 when the five-point estimate reads the angle right; 0.105 where it
# reads a 20-degree turn as 33); the four photos in ../shared/data/faces sheared, squeezed
# and tilted in perspective (tests/faces.py WARPS) through dlib give at most 0.086 among the
# 44 warps the pose estimate reads as a turn (dlib's 68-point model, pulled toward faces it
# knows, reads a little parallax into a strong warp). The margin is thin: see the README.
MIN_PARALLAX_PER_SINE = 0.095
# A turned frame that one homography of the frontal frame reproduces at least this well
# (likeness.flat_warp: correlation of the smoothed grey face) is that frame warped. Measured
# with `python bench/liveness.py`: the 44 warps above give 0.989 at the least; different
# photos (of one face or two) 0.82 at the most. No real turn was at hand to measure: a turn
# changes what the face shows (the nose hides part of a cheek), so it should stay well below
# a near-perfect match; the bound sits just under the warps' least.
MAX_PLANE_SIMILARITY = 0.98

# A head turned on request moves at a few tens of degrees a second; a slideshow of stills
# jumps from one pose to the next between two samples (at 4 frames a second, a 30-degree
# jump reads as 120 degrees a second). Not measured on real video here (the photos at hand
# are stills): a bound that a person turning smoothly stays under, with room for the pose
# estimate's few degrees of noise.
MAX_TURN_DEG_PER_S = 100.0
MAX_SHIFT_FACE_WIDTHS_PER_S = 1.5


def new_challenge() -> list[PoseClass]:
    turns = list(TURNS)
    order = [turns.pop(secrets.randbelow(len(turns))) for _ in range(len(TURNS))]
    return [PoseClass.FRONTAL, *order]


@dataclass(frozen=True)
class _Shown:
    pose: HeadPose  # relative to the first (frontal) frame
    pose_class: PoseClass | None


@dataclass(frozen=True, eq=False)
class PosedFrame:
    """A usable frame: the label the caller knows it by ("frame 3 (upload 2)"), its face and
    pixels, and for a video frame which upload (``clip``) and when in it."""

    label: str
    face: DetectedFace
    rgb: np.ndarray
    clip: int | None = None
    timestamp_s: float = 0.0

    @cached_property
    def pose(self) -> HeadPose:
        return estimate_head_pose(self.face.landmarks, layout=self.face.landmark_layout)


def check_liveness(challenge: Sequence[PoseClass], frames: Sequence[PosedFrame]) -> str | None:
    """None if a live head shows the challenge's poses in order; else what is wrong, in words."""
    return check_pose_sequence(challenge, frames) or check_continuity(frames) or check_depth(frames)


def check_pose_sequence(challenge: Sequence[PoseClass], frames: Sequence[PosedFrame]) -> str | None:
    """Whether the frames' head poses follow the challenge, in order (the pose check alone)."""
    shown = _relative_poses(frames)
    if isinstance(shown, str):
        return shown
    return _follow_challenge(challenge, frames, shown)


def _relative_poses(frames: Sequence[PosedFrame]) -> list[_Shown] | str:
    """Each frame's pose relative to the first, frontal one; or what is wrong with them."""
    for frame in frames:
        if frame.pose.fit_error > MAX_FIT_ERROR:
            return f"{frame.label}: the face's landmarks could not be fitted; show the whole face"
    if not frames:
        return "no usable frames to check the challenge against"
    if classify_head_pose(frames[0].pose) != PoseClass.FRONTAL:
        return f"{frames[0].label} must look straight at the camera (the challenge starts frontal)"
    relative = [frame.pose.relative_to(frames[0].pose) for frame in frames]
    return [_Shown(pose=pose, pose_class=classify_head_pose(pose)) for pose in relative]


def _follow_challenge(
    challenge: Sequence[PoseClass], frames: Sequence[PosedFrame], shown: list[_Shown]
) -> str | None:
    step = 0
    for seen in shown:
        if step < len(challenge) and seen.pose_class == challenge[step]:
            step += 1
    if step == len(challenge):
        return None
    seen_list = ", ".join(
        f"{frame.label}: {seen.pose_class or 'in between'}"
        for frame, seen in zip(frames, shown, strict=True)
    )
    expected = ", ".join(challenge)
    return (
        f"the challenge asks for {expected}, in that order, but after "
        f"{', '.join(challenge[:step])} no frame shows {challenge[step]!s} "
        f"(frames showed {seen_list}); record again following the challenge"
    )


def check_continuity(frames: Sequence[PosedFrame]) -> str | None:
    """Consecutive sampled frames of one video may not jump in pose or position."""
    for before, after in pairwise(frames):
        if before.clip is None or before.clip != after.clip:
            continue
        seconds = after.timestamp_s - before.timestamp_s
        if seconds <= 0:
            continue
        turned = float(
            np.hypot(
                after.pose.yaw - before.pose.yaw,
                after.pose.pitch - before.pose.pitch,
            )
        )
        if turned > MAX_TURN_DEG_PER_S * seconds:
            return (
                f"{after.label}: the head turned {turned:.0f} degrees in {seconds:.2f} s since "
                f"{before.label} (a head turns at most {MAX_TURN_DEG_PER_S:.0f} a second); "
                "the video jumps between poses like a slideshow: record one continuous take, "
                "turning your head smoothly"
            )
        moved = _face_shift(before.face, after.face)
        if moved > MAX_SHIFT_FACE_WIDTHS_PER_S * seconds:
            return (
                f"{after.label}: the face jumped {moved:.1f} face widths in {seconds:.2f} s "
                f"since {before.label}; the video must be one continuous take with the camera "
                "held steady"
            )
    return None


def parallax_per_sine(parallax: np.ndarray, *, pose: HeadPose, pose_class: PoseClass) -> float:
    """Parallax along the way ``pose_class`` moves the nose, per sine of the angle turned.

    About 0.17-0.21 for a real head whatever the angle (parallax grows with the sine of the
    turn); a plane transform of a flat photo shows none, however far it makes a turn read.
    """
    sideways = pose_class in (PoseClass.LEFT, PoseClass.RIGHT)
    angle = abs(pose.yaw if sideways else pose.pitch)
    along = float(parallax @ PARALLAX_DIRECTIONS[pose_class])
    return along / max(float(np.sin(np.radians(angle))), 1e-6)


def _face_shift(before: DetectedFace, after: DetectedFace) -> float:
    """How far the face's centre moved, in face widths."""
    centre_before = np.array([before.box[0] + before.box[2], before.box[1] + before.box[3]]) / 2
    centre_after = np.array([after.box[0] + after.box[2], after.box[1] + after.box[3]]) / 2
    width = (before.width + after.width) / 2
    return float(np.linalg.norm(centre_after - centre_before) / max(width, 1))


def check_depth(frames: Sequence[PosedFrame]) -> str | None:
    """Every frame showing a turn must show the parallax of a head turning that far, and be
    more than the frontal frame's picture warped."""
    shown = _relative_poses(frames)
    if isinstance(shown, str):
        return shown
    frontal: np.ndarray | None = None
    for frame, seen in zip(frames, shown, strict=True):
        if seen.pose_class not in PARALLAX_DIRECTIONS:
            continue
        if frontal is None:
            frontal = locate_rigid_landmarks(frames[0].rgb, frames[0].face.box)
        turned = locate_rigid_landmarks(frame.rgb, frame.face.box)
        parallax = measure_parallax(frontal, turned)
        depth_shown = parallax_per_sine(parallax, pose=seen.pose, pose_class=seen.pose_class)
        if depth_shown < MIN_PARALLAX_PER_SINE:
            return (
                f"{frame.label} reads as turned {seen.pose_class}, but the face moved as a flat "
                "picture does: the nose did not move against the eyes and mouth as a turning "
                f"head's does (parallax {depth_shown:.2f}, a head shows at least "
                f"{MIN_PARALLAX_PER_SINE:.2f}); record yourself live, not a photo or a "
                "warped picture"
            )
        similarity = plane_prediction_similarity(frames[0].rgb, frontal, frame.rgb, turned)
        if similarity >= MAX_PLANE_SIMILARITY:
            return (
                f"{frame.label} reads as turned {seen.pose_class}, but it is the first frame's "
                f"picture warped as a flat picture is: one plane transform of it reproduces "
                f"this face (match {similarity:.3f}; {MAX_PLANE_SIMILARITY} or more is a flat "
                "copy); record yourself live, not a photo or a warped picture"
            )
    return None
