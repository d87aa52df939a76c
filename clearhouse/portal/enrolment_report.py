"""A refused enrolment, laid out for the page: which frame was at fault and what each frame
showed, read from the refusal the service wrote (likeness/enrolment_frames.py and
likeness/liveness.py name frames "upload 2" for a photo, "upload 1 at 1.5 s" for a video's
frame).

The service stops at the first fault and says it in one sentence; the page shows that
sentence as it is, and beside it the frame it names and, when the pose check failed, the pose
read in each frame, so a person sees where their video went wrong without parsing a
paragraph.
"""

import re
from dataclasses import dataclass, field

_LABEL = r"upload \d+(?: at \d+(?:\.\d+)? s)?"
_LEADING_FRAME = re.compile(rf"^(?:Liveness check failed: )?({_LABEL})\b")
_FRAMES_SHOWED = re.compile(r"\(frames showed (.*)\)")
_POSE_SEEN = re.compile(rf"({_LABEL}): ([a-z ]+?)(?=, upload |$)")


@dataclass(frozen=True)
class FrameSeen:
    frame: str
    pose: str


@dataclass(frozen=True)
class EnrolmentRefusal:
    """What the page shows of a refused submission."""

    message: str
    frame: str | None = None  # the frame the refusal names first, if it names one
    poses: list[FrameSeen] = field(default_factory=list)  # the pose read in each frame


def enrolment_refusal(detail: str) -> EnrolmentRefusal:
    leading = _LEADING_FRAME.match(detail)
    showed = _FRAMES_SHOWED.search(detail)
    poses = (
        [FrameSeen(frame, pose) for frame, pose in _POSE_SEEN.findall(showed.group(1))]
        if showed
        else []
    )
    return EnrolmentRefusal(
        message=detail, frame=leading.group(1) if leading else None, poses=poses
    )
