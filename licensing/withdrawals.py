"""What a withdrawal of consent does to clearances, told to those it concerns, in the
revocation's own transaction: the owner hears its effect (the clips taken down, the
clearances made unusable), and each requester holding an unfinished clearance under the
grant hears at once (``clearance.revoked``) that it can no longer be released, before their
generator tries. The requester is told only the clearance's id and its generation's: nothing
about the owner or the asset beyond what the clearance itself showed them."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from generator.models import FINAL_STATES, GenerationJob
from licensing.models import Clearance, ClearedAsset, FoundIn
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
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
    notify_all(session, [owner_notice, *requester_notices], now=now)
