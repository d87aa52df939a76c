"""Enrolling a face: frames in, checked (one face each, large and sharp, one person, the
liveness challenge), then sealed into the vault — or, if another account enrolled the same
face, held for a moderator. One face, one owner.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import read_session, utcnow, write_session
from clearhouse.errors import NotFound
from clearhouse.ownership import owned
from likeness import vault
from likeness.enrolment_frames import CheckedEnrolment, check_enrolment_frames
from likeness.errors import EnrolmentClosed, EnrolmentRejected, FaceAlreadyEnrolled, NotALikeness
from likeness.liveness import new_challenge
from likeness.models import (
    ConflictStatus,
    EnrolmentSession,
    EnrolmentStatus,
    LikenessConflict,
    TemplateStatus,
)
from likeness.pose import PoseClass
from likeness.runtime import LikenessRuntime
from rights.models import Asset, AssetKind

# Rejected submissions per challenge. Enough for honest retakes (bad light, a frame out of
# order); few enough that nobody can search for a spoof the checks let through.
MAX_FAILED_ATTEMPTS = 3


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
    return owned(
        session,
        EnrolmentSession,
        enrolment_id,
        owner_column=EnrolmentSession.owner_id,
        owner_id=owner.id,
        not_found=NotFound("No enrolment with this id among yours."),
        for_update=for_update,
    )


def recent_enrolments(
    session: Session, *, owner_id: uuid.UUID, limit: int
) -> list[tuple[EnrolmentSession, Asset]]:
    """The owner's latest enrolments of their live likenesses, newest first, each with its
    likeness (the portal's list of what is enrolled, held or waiting for frames)."""
    return list(
        session.exec(
            select(EnrolmentSession, Asset)
            .join(Asset, Asset.id == EnrolmentSession.likeness_id)
            .where(EnrolmentSession.owner_id == owner_id, Asset.deleted_at.is_(None))
            .order_by(EnrolmentSession.created_at.desc(), EnrolmentSession.id.desc())
            .limit(limit)
        ).all()
    )


def enrolled_likeness_ids(session: Session, *, owner_id: uuid.UUID) -> set[uuid.UUID]:
    """The owner's likenesses with an enrolment that went through (directly, or accepted by
    a moderator)."""
    return set(
        session.exec(
            select(EnrolmentSession.likeness_id).where(
                EnrolmentSession.owner_id == owner_id,
                EnrolmentSession.status == EnrolmentStatus.enrolled,
            )
        ).all()
    )


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
    read of the enrolment, the checks (in a media worker: likeness.enrolment_frames), then
    one short write transaction that looks again (the likeness may have been deleted
    meanwhile) and decides one face, one owner under the face index's lock. A rejected
    attempt is counted in a transaction of its own; after ``MAX_FAILED_ATTEMPTS`` the
    challenge is spent and a new enrolment is needed.
    """
    with read_session(engine) as session:
        enrolment = owned_enrolment(session, owner=owner, enrolment_id=enrolment_id)
        _check_open(session, enrolment)
    checks = partial(
        check_enrolment_frames,
        uploads,
        limits=runtime.media_limits,
        challenge=[PoseClass(p) for p in enrolment.challenge]
        if enrolment.liveness_required
        else None,
        threshold=runtime.settings.face_match_threshold,
    )
    try:
        checked = runtime.run_media_work(checks)
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
        runtime.refresh(session, read_counter=True)  # faces enrolled elsewhere count too
        return _enrol(
            session,
            owner=owner,
            enrolment=enrolment,
            likeness=likeness,
            checked=checked,
            uploads=uploads,
            runtime=runtime,
        )


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
    checked: CheckedEnrolment,
    uploads: list[bytes],
    runtime: LikenessRuntime,
) -> EnrolmentOutcome:
    holder_of_face = _enrolled_elsewhere(
        session, likeness=likeness, checked=checked, runtime=runtime
    )
    status = TemplateStatus.active if holder_of_face is None else TemplateStatus.pending
    templates = vault.seal_templates(
        session,
        likeness_id=likeness.id,
        model_key=checked.model.model_key,
        embeddings=checked.embeddings,
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
            "model_key": checked.model.model_key,
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


def _enrolled_elsewhere(
    session: Session, *, likeness: Asset, checked: CheckedEnrolment, runtime: LikenessRuntime
) -> tuple[Asset, float] | None:
    """The best-matching live likeness of another account, if any; refuse the owner's own."""
    best: dict[uuid.UUID, float] = {}
    for matches in runtime.index.search(
        model_key=checked.model.model_key,
        queries=checked.embeddings,
        k=5,
        min_similarity=checked.model.match_threshold,
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
