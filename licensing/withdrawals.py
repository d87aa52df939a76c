"""What a withdrawal of consent does to clearances, told to those it concerns, in the
revocation's own transaction: the owner hears its effect (the clips taken down, the
clearances made unusable); each requester holding an unfinished clearance under the grant
hears at once (``clearance.revoked``) that it can no longer be released, before their
generator tries; and the creator of each released clip it took down hears that it was
(``generation.taken_down``) and what became of its charge. A requester or creator is told only
the clearance's id and its generation's and why in general terms: nothing about the owner
(who they are, the grant, the reason they gave) or the asset beyond what the clearance itself
showed them."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from generator.models import FINAL_STATES, GenerationJob
from licensing.models import Charge, Clearance, ClearedAsset, FoundIn
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from payouts.takedowns import reversed_generations
from policies.decisions import AssetOutcome, ClearanceOutcome


def unfinished_clearances(
    session: Session, *, grant_id: uuid.UUID, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None]]:
    """(clearance, requester, generation or None) of each cleared request relying on the grant
    that has not ended: its generation runs, or none started and its token still lets one."""
    rows = session.exec(
        select(Clearance.id, Clearance.requester_id, GenerationJob.id)
        .join(ClearedAsset, ClearedAsset.clearance_id == Clearance.id)
        .outerjoin(GenerationJob, GenerationJob.clearance_id == Clearance.id)
        .where(
            ClearedAsset.grant_id == grant_id,
            ClearedAsset.outcome == AssetOutcome.allow,
            ClearedAsset.found_in == FoundIn.request,
            Clearance.outcome == ClearanceOutcome.cleared,
            or_(
                and_(col(GenerationJob.id).is_(None), col(Clearance.token_expires_at) > now),
                col(GenerationJob.state).not_in(FINAL_STATES),
            ),
        )
        .distinct()
    ).all()
    return sorted(rows, key=lambda row: str(row[0]))


def tell_of_withdrawal(
    session: Session,
    *,
    owner_id: uuid.UUID,
    asset_id: uuid.UUID,
    handle: str,
    grant_id: uuid.UUID,
    taken_down: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    """The notices of one withdrawn grant (see the module)."""
    unusable = unfinished_clearances(session, grant_id=grant_id, now=now)
    owner_notice = NoticeDraft(
        owner_id,
        NoticeKind.consent_withdrawn,
        [asset_id, grant_id],
        {
            "asset_id": str(asset_id),
            "handle": handle,
            "grant_id": str(grant_id),
            "generations_taken_down": [str(generation_id) for generation_id in taken_down],
            "clearances_made_unusable": len(unusable),
        },
    )
    requester_notices = (
        NoticeDraft(
            requester_id,
            NoticeKind.clearance_revoked,
            [clearance_id] + ([generation_id] if generation_id else []),
            {
                "clearance_id": str(clearance_id),
                "generation_id": str(generation_id) if generation_id else None,
                "reason": "A consent this clearance relies on was withdrawn: it can no longer "
                "be released, and nothing is charged for it.",
            },
        )
        for clearance_id, requester_id, generation_id in unusable
    )
    notify_all(
        session,
        [owner_notice, *requester_notices, *takedown_notices(session, taken_down=taken_down)],
        now=now,
    )


def takedown_notices(session: Session, *, taken_down: Sequence[uuid.UUID]) -> list[NoticeDraft]:
    """A ``generation.taken_down`` notice to the creator of each clip taken down: which
    generation, why in general terms, and whether its charge is back in their credits (its
    reversal posted) or is still to come (the reversal waits to be retried,
    payouts/takedowns.py)."""
    if not taken_down:
        return []
    returned = reversed_generations(session, generation_ids=taken_down)
    rows = session.exec(
        select(
            GenerationJob.id,
            GenerationJob.requester_id,
            GenerationJob.clearance_id,
            Charge.amount_minor,
            Charge.currency,
        )
        .outerjoin(Charge, Charge.generation_id == GenerationJob.id)
        .where(col(GenerationJob.id).in_(list(taken_down)))
        .order_by(GenerationJob.id)
    ).all()
    return [
        NoticeDraft(
            requester_id,
            NoticeKind.generation_taken_down,
            [generation_id, clearance_id],
            {
                "generation_id": str(generation_id),
                "clearance_id": str(clearance_id),
                "reason": "A consent this generation was licensed under was withdrawn: its "
                "video is no longer served.",
                "charge_minor": charge_minor or 0,
                "currency": currency,
                "charge_returned": bool(charge_minor) and generation_id in returned,
                "refund": _refund(charge_minor or 0, currency, returned=generation_id in returned),
            },
        )
        for generation_id, requester_id, clearance_id, charge_minor, currency in rows
    ]


def _refund(charge_minor: int, currency: str | None, *, returned: bool) -> str:
    if not charge_minor:
        return "Nothing was charged for it."
    charge = f"Its charge, {charge_minor} {currency} minor units,"
    if returned:
        return f"{charge} was returned to your credits."
    return f"{charge} will be returned to your credits; it has not been yet."
