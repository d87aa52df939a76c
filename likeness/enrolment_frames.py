"""An enrolment's media work, run in a media worker: the uploads in, the embeddings to seal out.

Every check that reads pixels runs here, beside the decode: one face per frame, large and
sharp, one person throughout, and the liveness challenge (its pose, continuity and parallax
checks read the frames with dlib's landmark model). So decoded frames never travel back to
the API process and no face model runs there. A frame that fails raises
:class:`EnrolmentRejected`, naming it; the API process counts the failed attempt. This
module imports no database code: workers stay small.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from likeness.errors import EnrolmentRejected
from likeness.liveness import PosedFrame, check_liveness
from likeness.media import MediaLimits, decode_uploads
from likeness.media_workers import FaceModel, worker_backend, worker_face_model
from likeness.pose import PoseClass
from likeness.quality import assess_face_quality

MIN_FRAMES = 3
MAX_TEMPLATES = 5  # spread over the usable frames; more adds little and costs index space
VIDEO_SAMPLE_FPS = 4.0


@dataclass(frozen=True)
class CheckedEnrolment:
    model: FaceModel
    embeddings: np.ndarray  # the templates to seal: at most MAX_TEMPLATES rows


def check_enrolment_frames(
    uploads: list[bytes],
    *,
    limits: MediaLimits,
    challenge: Sequence[PoseClass] | None,
    threshold: float | None,
) -> CheckedEnrolment:
    """The embeddings to seal, once the frames pass every check; ``challenge`` is None when
    the enrolment needs no liveness."""
    model = worker_face_model(threshold)
    frames = _usable_frames(uploads, limits=limits)
    embeddings = np.stack([frame.face.embedding for frame in frames])
    _check_one_person(frames, embeddings, threshold=model.match_threshold)
    if challenge is not None:
        problem = check_liveness(challenge, frames)
        if problem:
            raise EnrolmentRejected(f"Liveness check failed: {problem}.")
    chosen = np.linspace(0, len(frames) - 1, min(MAX_TEMPLATES, len(frames))).round().astype(int)
    return CheckedEnrolment(model=model, embeddings=embeddings[chosen])


def _usable_frames(uploads: list[bytes], *, limits: MediaLimits) -> list[PosedFrame]:
    """Every still must be usable; in a video, frames without a usable face are skipped."""
    decoded = decode_uploads(uploads, limits=limits, sample_fps=VIDEO_SAMPLE_FPS)
    faces = worker_backend().detect_and_embed([f.rgb for frames in decoded for f in frames])
    labelled = []
    for number, frames in enumerate(decoded, start=1):
        is_video = len(frames) > 1 or frames[0].timestamp_s > 0
        for frame in frames:
            label = (
                f"upload {number} at {frame.timestamp_s:.1f} s" if is_video else f"upload {number}"
            )
            clip = number if is_video else None
            labelled.append((label, is_video, frame.rgb, clip, frame.timestamp_s))
    usable = []
    for (label, is_video, rgb, clip, timestamp_s), found in zip(labelled, faces, strict=True):
        if len(found) > 1:
            raise EnrolmentRejected(
                f"{label} shows {len(found)} faces; enrolment needs frames "
                "with exactly one face: the person enrolling, alone."
            )
        if not found:
            if is_video:
                continue
            raise EnrolmentRejected(
                f"{label} shows no face; use a photo of your face, "
                "looking at the camera, in good light."
            )
        quality = assess_face_quality(rgb, found[0])
        if not quality.acceptable:
            if is_video:
                continue
            raise EnrolmentRejected(f"{label}: {quality.reason}.")
        usable.append(
            PosedFrame(label=label, face=found[0], rgb=rgb, clip=clip, timestamp_s=timestamp_s)
        )
    if len(usable) < MIN_FRAMES:
        raise EnrolmentRejected(
            f"Enrolment needs at least {MIN_FRAMES} frames with one clear face each; "
            f"{len(usable)} usable frame(s) were found."
        )
    return usable


def _check_one_person(
    frames: list[PosedFrame], embeddings: np.ndarray, *, threshold: float
) -> None:
    similarity = embeddings @ embeddings.T
    worst = np.unravel_index(np.argmin(similarity), similarity.shape)
    if similarity[worst] < threshold:
        first, second = sorted(int(i) for i in worst)
        raise EnrolmentRejected(
            f"{frames[second].label} does not show the same person as {frames[first].label} "
            f"(similarity {similarity[worst]:.2f}, need {threshold:.2f}); every frame must "
            "show the person enrolling."
        )
