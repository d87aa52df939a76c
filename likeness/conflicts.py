"""One face, one owner: conflicts between accounts that enrolled the same face.

A moderator decides. Accepting lets the claimant's enrolment go ahead (the faces belong to
different people, e.g. twins or a false match); rejecting refuses it and destroys the
claimant's held templates. Both parties see the status; only moderators see the score.
"""

import uuid

from sqlmodel import Session, or_, select

from audit.service import record_event
from clearhouse.accounts.models import Account, Role
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from likeness import vault
from likeness.errors import ConflictAlreadyResolved, PartyToConflict
from likeness.models import (
    ConflictStatus,
    EnrolmentSession,
    EnrolmentStatus,
    LikenessConflict,
    TemplateStatus,
)
from likeness.runtime import LikenessRuntime
from rights.authority import acts_for

STAFF = (Role.moderator, Role.admin)


def visible_conflicts(
    session: Session, *, viewer: Account, status: ConflictStatus | None, params: PageParams
) -> tuple[list[LikenessConflict], int]:
    """Moderators see every conflict; a holder sees those they are a party to."""
    query = select(LikenessConflict).order_by(LikenessConflict.created_at, LikenessConflict.id)
    if viewer.role not in STAFF:
        query = query.where(
            or_(
                LikenessConflict.claimant_id == viewer.id,
                LikenessConflict.existing_owner_id == viewer.id,
            )
        )
    if status is not None:
        query = query.where(LikenessConflict.status == status)
    return paginate(session, query, params)


def visible_conflict(
    session: Session, *, viewer: Account, conflict_id: uuid.UUID
) -> LikenessConflict:
    conflict = session.get(LikenessConflict, conflict_id)
    if conflict is None or (
        viewer.role not in STAFF
        and viewer.id not in (conflict.claimant_id, conflict.existing_owner_id)
    ):
        raise NotFound("No conflict with this id that you are a party to.")
    return conflict


def resolve_conflict(
    session: Session,
    *,
    moderator: Account,
    conflict_id: uuid.UUID,
    accept: bool,
    note: str | None,
    runtime: LikenessRuntime,
) -> LikenessConflict:
    conflict = session.exec(
        select(LikenessConflict).where(LikenessConflict.id == conflict_id).with_for_update()
    ).first()
    if conflict is None:
        raise NotFound("No conflict with this id.")
    # A person's agent acts for them (their likenesses): a party too.
    if any(
        acts_for(session, account_id=moderator.id, person_id=person)
        for person in (conflict.claimant_id, conflict.existing_owner_id)
    ):
        raise PartyToConflict(
            "You are a party to this conflict (one of the faces is enrolled under your "
            "account), so another moderator must decide it."
        )
    if conflict.status != ConflictStatus.open:
        raise ConflictAlreadyResolved(f"This conflict was {conflict.status.value} already.")
    enrolment = session.get(EnrolmentSession, conflict.enrolment_id)
    claimant = conflict.claimant_likeness_id
    if accept:
        templates = list(
            vault.open_templates(
                session,
                key_store=runtime.key_store,
                status=TemplateStatus.pending,
                likeness_id=claimant,
            )
        )
        vault.activate_templates(session, likeness_id=claimant)
        vault.record_activity(session, likeness_ids=[claimant])
        runtime.change_index(session, lambda index: index.add_templates(templates=templates))
    else:
        vault.discard_pending_templates(session, likeness_id=claimant)
    conflict.status = ConflictStatus.accepted if accept else ConflictStatus.rejected
    conflict.resolved_at, conflict.resolved_by, conflict.resolution_note = (
        utcnow(),
        moderator.id,
        note,
    )
    enrolment.status = EnrolmentStatus.enrolled if accept else EnrolmentStatus.rejected
    session.add_all([conflict, enrolment])
    record_event(
        session,
        action=f"likeness.conflict_{conflict.status.value}",
        actor_id=moderator.id,
        asset_id=claimant,
        details={"conflict_id": str(conflict.id), "note": note},
    )
    session.flush()
    return conflict
