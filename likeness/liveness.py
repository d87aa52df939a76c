"""The liveness challenge: a random sequence of head poses the frames must show, in order.

A replayed photo cannot turn its head when asked. The challenge always starts frontal (that
frame is the person's own reference: poses after it are measured relative to it, which
removes most of the bias of a face whose proportions differ from the canonical model),
then asks for left, right and up in a random order.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from likeness.backends.base import DetectedFace
from likeness.pose import HeadPose, PoseClass, classify_head_pose, estimate_head_pose

TURNS = (PoseClass.LEFT, PoseClass.RIGHT, PoseClass.UP)
MAX_FIT_ERROR = 0.15  # above this the landmarks do not look like a face (see pose.HeadPose)


def new_challenge() -> list[PoseClass]:
    turns = list(TURNS)
    order = [turns.pop(secrets.randbelow(len(turns))) for _ in range(len(TURNS))]
    return [PoseClass.FRONTAL, *order]


@dataclass(frozen=True)
class PosedFrame:
    """A usable frame's face and the label the caller knows it by ("frame 3 (upload 2)")."""

    label: str
    face: DetectedFace


def check_liveness(challenge: Sequence[PoseClass], frames: Sequence[PosedFrame]) -> str | None:
    """None if the frames show the challenge's poses in order; else what is wrong, in words."""
    poses: list[tuple[str, HeadPose]] = []
    for frame in frames:
        pose = estimate_head_pose(frame.face.landmarks, layout=frame.face.landmark_layout)
        if pose.fit_error > MAX_FIT_ERROR:
            return f"{frame.label}: the face's landmarks could not be fitted; show the whole face"
        poses.append((frame.label, pose))
    if not poses:
        return "no usable frames to check the challenge against"
    first_label, reference = poses[0]
    if classify_head_pose(reference) != PoseClass.FRONTAL:
        return f"{first_label} must look straight at the camera (the challenge starts frontal)"
    shown = [(label, classify_head_pose(pose.relative_to(reference))) for label, pose in poses]
    step = 0
    for _label, pose_class in shown:
        if step < len(challenge) and pose_class == challenge[step]:
            step += 1
    if step == len(challenge):
        return None
    seen = ", ".join(f"{label}: {pose_class or 'in between'}" for label, pose_class in shown)
    expected = ", ".join(challenge)
    return (
        f"the challenge asks for {expected}, in that order, but after "
        f"{', '.join(challenge[:step])} no frame shows {challenge[step]!s} "
        f"(frames showed {seen}); record again following the challenge"
    )
