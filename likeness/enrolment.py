"""Enrolling a face: frames in, checked (one face each, large and sharp, one person, the
liveness challenge), then sealed into the vault — or, if another account enrolled the same
face, held for a moderator. One face, one owner.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import read_session, utcnow, write_session
from clearhouse.errors import NotFound
from clearhouse.media import Frame, decode_uploads
from likeness import vault
from likeness.backends.base import DetectedFace
from likeness.errors import EnrolmentClosed, EnrolmentRejected, FaceAlreadyEnrolled, NotALikeness
from likeness.liveness import PosedFrame, check_liveness, new_challenge
from likeness.models import (
    ConflictStatus,
    EnrolmentSession,
    EnrolmentStatus,
    LikenessConflict,
    TemplateStatus,
)
from likeness.pose import PoseClass
from likeness.quality import assess_face_quality
from likeness.runtime import LikenessRuntime
from rights.models import Asset, AssetKind

MIN_FRAMES = 3
# Rejected submissions per challenge. Enough for honest retakes (bad light, a frame out of
# order); few enough that nobody can search for a spoof the checks let through.
MAX_FAILED_ATTEMPTS = 3
MAX_TEMPLATES = 5  # spread over the usable frames; more adds little and costs index space
VIDEO_SAMPLE_FPS = 4.0


def open_enrolment(
    session: Session,
    *,
    owner: Account,
    likeness: Asset,
    keep_media: bool,
    runtime: LikenessRuntime,
) -> EnrolmentSession:
    if likeness.kind != AssetKind.likeness:
        raise NotALikeness(
            f"@{likeness.handle} is a {likeness.kind.value}; faces are enrolled on likeness assets."
        )
    required = runtime.settings.liveness_required
    enrolment = EnrolmentSession(
        likeness_id=likeness.id,
        owner_id=owner.id,
        challenge=[pose.value for pose in new_challenge()] if required else [],
        liveness_required=required,
        keep_media=keep_media,
        status=EnrolmentStatus.open,
        expires_at=utcnow() + timedelta(minutes=runtime.settings.enrolment_minutes),
    )
    session.add(enrolment)
    session.flush()
    return enrolment


def owned_enrolment(
    session: Session, *, owner: Account, enrolment_id: uuid.UUID, for_update: bool = False
) -> EnrolmentSession:
    query = select(EnrolmentSession).where(
        EnrolmentSession.id == enrolment_id, EnrolmentSession.owner_id == owner.id
    )
    enrolment = session.exec(query.with_for_update() if for_update else query).first()
    if enrolment is None:
        raise NotFound("No enrolment with this id among yours.")
    return enrolment


@dataclass(frozen=True)
class EnrolmentOutcome:
    enrolment: EnrolmentSession
    templates: int
    conflict: LikenessConflict | None = None


def submit_frames(
    engine: Engine,
    *,
    owner: Account,
    enrolment_id: uuid.UUID,
    uploads: list[bytes],
    runtime: LikenessRuntime,
) -> EnrolmentOutcome:
    """Check the uploads and enrol the face they show. Raw uploads are kept only if asked.

    Three steps, so that no lock is held while media is decoded and faces are embedded: a
    read of the enrolment, the checks (no transaction), then one short write transaction that
    looks again (the likeness may have been deleted meanwhile) and decides one face, one
    owner under the face index's lock. A rejected attempt is counted in a transaction of its
    own; after ``MAX_FAILED_ATTEMPTS`` the challenge is spent and a new enrolment is needed.
    """
    with read_session(engine) as session:
        enrolment = owned_enrolment(session, owner=owner, enrolment_id=enrolment_id)
        _check_open(session, enrolment)
    try:
        chosen = _checked_embeddings(enrolment, uploads=uploads, runtime=runtime)
    except EnrolmentRejected:
        _count_failed_attempt(engine, owner=owner, enrolment_id=enrolment_id)
        raise
    with write_session(engine) as session:
        enrolment = owned_enrolment(
            session, owner=owner, enrolment_id=enrolment_id, for_update=True
        )
        likeness = _check_open(session, enrolment)
        # Serialises one-face-one-owner: every change to the active templates takes this
        # row, so two accounts enrolling one face cannot both find the other absent.
        vault.lock_index_generation(session)
        runtime.refresh(session)  # faces enrolled through other processes count too
        return _enrol(
            session,
            owner=owner,
            enrolment=enrolment,
            likeness=likeness,
            embeddings=chosen,
            uploads=uploads,
            runtime=runtime,
        )


def _checked_embeddings(
    enrolment: EnrolmentSession, *, uploads: list[bytes], runtime: LikenessRuntime
) -> np.ndarray:
    """The embeddings to seal, once the frames pass every check (no database needed)."""
    frames = _usable_frames(uploads, runtime=runtime)
    embeddings = np.stack([frame.face.embedding for frame in frames])
    _check_one_person(frames, embeddings, threshold=runtime.match_threshold)
    if enrolment.liveness_required:
        problem = check_liveness([PoseClass(p) for p in enrolment.challenge], frames)
        if problem:
            raise EnrolmentRejected(f"Liveness check failed: {problem}.")
    return embeddings[
        np.linspace(0, len(frames) - 1, min(MAX_TEMPLATES, len(frames))).round().astype(int)
    ]


def _count_failed_attempt(engine: Engine, *, owner: Account, enrolment_id: uuid.UUID) -> None:
    with write_session(engine) as session:
        enrolment = owned_enrolment(
            session, owner=owner, enrolment_id=enrolment_id, for_update=True
        )
        enrolment.failed_attempts += 1
        session.add(enrolment)


def _enrol(
    session: Session,
    *,
    owner: Account,
    enrolment: EnrolmentSession,
    likeness: Asset,
    embeddings: np.ndarray,
    uploads: list[bytes],
    runtime: LikenessRuntime,
) -> EnrolmentOutcome:
    holder_of_face = _enrolled_elsewhere(
        session, likeness=likeness, embeddings=embeddings, runtime=runtime
    )
    status = TemplateStatus.active if holder_of_face is None else TemplateStatus.pending
    templates = vault.seal_templates(
        session,
        likeness_id=likeness.id,
        model_key=runtime.backend.model_key,
        embeddings=embeddings,
        status=status,
        key_store=runtime.key_store,
    )
    if enrolment.keep_media:
        vault.keep_media(
            session,
            likeness_id=likeness.id,
            enrolment_id=enrolment.id,
            uploads=uploads,
            key_store=runtime.key_store,
        )
    enrolment.completed_at = utcnow()
    conflict = None
    if holder_of_face is None:
        enrolment.status = EnrolmentStatus.enrolled
        vault.record_activity(session, likeness_ids=[likeness.id])
        runtime.change_index(session, lambda index: index.add_templates(templates=templates))
    else:
        enrolment.status = EnrolmentStatus.conflict
        other, similarity = holder_of_face
        conflict = LikenessConflict(
            enrolment_id=enrolment.id,
            claimant_likeness_id=likeness.id,
            claimant_id=owner.id,
            existing_likeness_id=other.id,
            existing_owner_id=other.owner_id,
            similarity=similarity,
            status=ConflictStatus.open,
        )
        session.add(conflict)
    session.add(enrolment)
    session.flush()
    record_event(
        session,
        action="likeness.enrolled" if conflict is None else "likeness.conflict_opened",
        actor_id=owner.id,
        asset_id=likeness.id,
        details={
            "enrolment_id": str(enrolment.id),
            "templates": len(templates),
            "model_key": runtime.backend.model_key,
            "conflict_id": str(conflict.id) if conflict else None,
        },
    )
    return EnrolmentOutcome(enrolment=enrolment, templates=len(templates), conflict=conflict)


def _check_open(session: Session, enrolment: EnrolmentSession) -> Asset:
    """The likeness being enrolled, if the enrolment can still take frames."""
    if enrolment.status != EnrolmentStatus.open:
        raise EnrolmentClosed(f"This enrolment is {enrolment.status.value}; start a new one.")
    if enrolment.expires_at <= utcnow():
        raise EnrolmentClosed("This enrolment expired; start a new one for a fresh challenge.")
    if enrolment.failed_attempts >= MAX_FAILED_ATTEMPTS:
        raise EnrolmentClosed(
            f"This challenge was failed {enrolment.failed_attempts} times; start a new "
            "enrolment for a fresh challenge."
        )
    likeness = session.exec(
        select(Asset).where(Asset.id == enrolment.likeness_id, Asset.deleted_at.is_(None))
    ).first()
    if likeness is None:
        raise EnrolmentClosed("The likeness of this enrolment was deleted; nothing to enrol.")
    return likeness


def _usable_frames(uploads: list[bytes], *, runtime: LikenessRuntime) -> list[PosedFrame]:
    """Every still must be usable; in a video, frames without a usable face are skipped."""

    def decode_and_detect() -> tuple[list[list[Frame]], list[list[DetectedFace]]]:
        decoded = decode_uploads(uploads, limits=runtime.media_limits, sample_fps=VIDEO_SAMPLE_FPS)
        return decoded, runtime.detect_and_embed([f.rgb for frames in decoded for f in frames])

    decoded, faces = runtime.run_media_work(decode_and_detect)
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


def _enrolled_elsewhere(
    session: Session, *, likeness: Asset, embeddings: np.ndarray, runtime: LikenessRuntime
) -> tuple[Asset, float] | None:
    """The best-matching live likeness of another account, if any; refuse the owner's own."""
    best: dict[uuid.UUID, float] = {}
    for matches in runtime.index.search(
        model_key=runtime.backend.model_key,
        queries=embeddings,
        k=5,
        min_similarity=runtime.match_threshold,
    ):
        for match in matches:
            if match.likeness_id != likeness.id:
                best[match.likeness_id] = max(best.get(match.likeness_id, -1.0), match.similarity)
    live = vault.likenesses_with_keys(list(best), key_store=runtime.key_store)
    candidates = sorted(((s, i) for i, s in best.items() if i in live), reverse=True)
    for similarity, likeness_id in candidates:
        other = session.get(Asset, likeness_id)
        if other is None or other.deleted_at is not None:
            continue
        if other.owner_id == likeness.owner_id:
            raise FaceAlreadyEnrolled(
                f"This face is enrolled already as your likeness @{other.handle}; "
                "one face has one likeness."
            )
        return other, similarity
    return None
