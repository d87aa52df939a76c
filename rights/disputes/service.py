"""Opening, answering, discussing and deciding disputes.

Any signed-in account may open a dispute about a live asset it does not hold. Its holder
(the owner, and whoever ``rights.authority.may`` lets see the asset: an organisation's
members, a person's agents) answers before ``answer_due_at``; both parties and staff write in
its thread, and nobody else learns it exists (404). Staff decide an answered dispute, or an
open one whose answer is overdue, never one they are a party to (403):

- **upheld**: the asset's standing becomes ``disputed``: still matched, its matches deny, it
  cannot be granted; its held shares go back to the creators (payouts/earning.py);
- **dismissed**: it goes on; what was held while the dispute was undecided is paid in when
  its claim is verified.

While a dispute is undecided the asset's new uses' shares are held (payouts/earning.py). Every
step is in the audit chain and sends notices to both parties, each told their own side only.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from audit.service import record_event
from clearhouse.accounts.models import STAFF_ROLES, Account
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from payouts.earning import lock_asset, settle_held_shares
from rights.authority import Action, assets_in_reach, may
from rights.claims.models import ClaimDocument
from rights.disputes.errors import (
    DisputeClosed,
    NotDecidable,
    NotYourAnswer,
    OwnAsset,
    PartyToDispute,
)
from rights.disputes.models import (
    UNDECIDED,
    Dispute,
    DisputeMessage,
    DisputeStatus,
    PartySide,
)
from rights.disputes.schemas import DisputeOpening
from rights.evidence import documents_by_id, store_document
from rights.matching import store as text_catalogue
from rights.models import Asset, AssetStanding

NOT_FOUND = "No dispute with this id that you are a party to."


@dataclass(frozen=True)
class DisputeView:
    """A dispute, its asset, evidence document and thread, and the viewer's side in it."""

    dispute: Dispute
    asset: Asset
    document: ClaimDocument | None
    messages: list[DisputeMessage]
    side: PartySide


def side_of(
    session: Session, *, viewer: Account, dispute: Dispute, asset: Asset
) -> PartySide | None:
    """The viewer's side: a party's (the opener, or one who may see the asset), staff's, or
    none (then the dispute is not theirs to see)."""
    if viewer.id == dispute.opener_id:
        return PartySide.opener
    if may(session, account_id=viewer.id, action=Action.view, owner_id=asset.owner_id, asset=asset):
        return PartySide.holder
    if viewer.role in STAFF_ROLES:
        return PartySide.staff
    return None


def _view(session: Session, dispute: Dispute, asset: Asset, side: PartySide) -> DisputeView:
    messages = session.exec(
        select(DisputeMessage)
        .where(DisputeMessage.dispute_id == dispute.id)
        .order_by(DisputeMessage.written_at, DisputeMessage.id)
    ).all()
    document = documents_by_id(session, [dispute.document_id]).get(dispute.document_id)
    return DisputeView(
        dispute=dispute, asset=asset, document=document, messages=list(messages), side=side
    )


def visible_dispute(session: Session, *, viewer: Account, dispute_id: uuid.UUID) -> DisputeView:
    """The dispute with its thread, to its parties and staff; to anyone else not found."""
    row = session.exec(
        select(Dispute, Asset)
        .join(Asset, Asset.id == Dispute.asset_id)
        .where(Dispute.id == dispute_id)
    ).first()
    side = None if row is None else side_of(session, viewer=viewer, dispute=row[0], asset=row[1])
    if side is None:
        raise NotFound(NOT_FOUND)
    return _view(session, row[0], row[1], side)


def visible_disputes(
    session: Session,
    *,
    viewer: Account,
    status: DisputeStatus | None,
    asset_id: uuid.UUID | None,
    everyone: bool,
    params: PageParams,
) -> tuple[list[tuple[Dispute, Asset]], int]:
    """The disputes the viewer opened or whose asset they may see, the oldest first; with
    ``everyone`` (staff only), every dispute: the review queue."""
    query = (
        select(Dispute, Asset)
        .join(Asset, Asset.id == Dispute.asset_id)
        .order_by(Dispute.opened_at, Dispute.id)
    )
    if not (everyone and viewer.role in STAFF_ROLES):
        query = query.where(
            or_(
                Dispute.opener_id == viewer.id,
                assets_in_reach(session, account_id=viewer.id, action=Action.view),
            )
        )
    if status is not None:
        query = query.where(Dispute.status == status)
    if asset_id is not None:
        query = query.where(Dispute.asset_id == asset_id)
    return paginate(session, query, params)


def dispute_notices(
    dispute: Dispute,
    asset: Asset,
    kind: NoticeKind,
    *,
    actor_id: uuid.UUID | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[NoticeDraft]:
    """The notices of one step to its parties, the holder and the opener, but not to the one
    who took it: the dispute's id, its asset's public handle and where it stands (and
    ``extra``); its thread is read at GET /v1/disputes/{id}."""
    facts = {
        "dispute_id": str(dispute.id),
        "asset_id": str(asset.id),
        "asset_handle": asset.handle,
        "status": dispute.status.value,
        **(extra or {}),
    }
    drafts = [
        NoticeDraft(asset.owner_id, kind, [dispute.id, asset.id], facts),
        NoticeDraft(dispute.opener_id, kind, [dispute.id], facts),
    ]
    return [draft for draft in drafts if draft.account_id != actor_id]


def open_dispute(
    session: Session,
    *,
    opener: Account,
    opening: DisputeOpening,
    document: bytes | None,
    answer_days: int,
) -> DisputeView:
    """Open a dispute about the live asset ``opening`` names (see the module)."""
    asset = session.exec(
        select(Asset).where(
            Asset.handle == opening.asset_handle.strip().removeprefix("@").lower(),
            col(Asset.deleted_at).is_(None),
        )
    ).first()
    if asset is None:
        raise NotFound("No asset with this handle. Handles are in clearance answers.")
    if may(session, account_id=opener.id, action=Action.view, owner_id=asset.owner_id, asset=asset):
        raise OwnAsset("You hold this asset: change or delete it rather than dispute it.")
    asset = lock_asset(session, asset.id)  # after any claim decision of it (payouts/earning.py)
    now = utcnow()
    stored = (
        store_document(session, owner_id=opener.id, data=document, now=now) if document else None
    )
    dispute = Dispute(
        asset_id=asset.id,
        opener_id=opener.id,
        kind=opening.kind,
        status=DisputeStatus.open,
        statement=opening.statement,
        link=opening.link,
        document_id=stored.id if stored else None,
        opened_at=now,
        answer_due_at=now + timedelta(days=answer_days),
    )
    session.add(dispute)
    session.flush()
    record_event(
        session,
        action="dispute.opened",
        actor_id=opener.id,
        asset_id=asset.id,
        details={
            "dispute_id": str(dispute.id),
            "kind": dispute.kind.value,
            "link": dispute.link,
            "document_sha256": stored.sha256 if stored else None,
            "answer_due_at": dispute.answer_due_at.isoformat(),
        },
    )
    notify_all(
        session,
        dispute_notices(dispute, asset, NoticeKind.dispute_opened, actor_id=opener.id),
        now=now,
    )
    return _view(session, dispute, asset, PartySide.opener)


def _locked(session: Session, *, viewer: Account, dispute_id: uuid.UUID) -> DisputeView:
    """The visible dispute, its asset then itself locked for update (payouts/earning.py's
    order), still undecided."""
    view = visible_dispute(session, viewer=viewer, dispute_id=dispute_id)
    asset = lock_asset(session, view.asset.id)
    dispute = session.exec(select(Dispute).where(Dispute.id == dispute_id).with_for_update()).one()
    if dispute.status not in UNDECIDED:
        raise DisputeClosed(f"This dispute was {dispute.status.value} already.")
    return DisputeView(
        dispute=dispute, asset=asset, document=view.document, messages=view.messages, side=view.side
    )


def _write(session: Session, view: DisputeView, *, author: Account, body: str, answer: bool, now):
    session.add(
        DisputeMessage(
            dispute_id=view.dispute.id,
            author_id=author.id,
            side=view.side,
            body=body,
            is_answer=answer,
            written_at=now,
        )
    )
    session.flush()


def answer_dispute(
    session: Session, *, holder: Account, dispute_id: uuid.UUID, body: str
) -> DisputeView:
    """The holder's answer, before its deadline; then staff decide."""
    view = _locked(session, viewer=holder, dispute_id=dispute_id)
    dispute, asset = view.dispute, view.asset
    if view.side != PartySide.holder or not may(
        session, account_id=holder.id, action=Action.manage, owner_id=asset.owner_id, asset=asset
    ):
        raise NotYourAnswer(
            "Only the asset's holder (or a member who manages it) answers; write a message."
        )
    if dispute.status != DisputeStatus.open:
        raise NotYourAnswer("This dispute is answered already; write a message instead.")
    now = utcnow()
    if now >= dispute.answer_due_at:
        raise NotYourAnswer(
            f"The answer was due by {dispute.answer_due_at.isoformat()}: staff may decide "
            "without it. Write a message; they read the thread."
        )
    _write(session, view, author=holder, body=body, answer=True, now=now)
    dispute.status, dispute.answered_at = DisputeStatus.answered, now
    session.add(dispute)
    record_event(
        session,
        action="dispute.answered",
        actor_id=holder.id,
        asset_id=asset.id,
        details={"dispute_id": str(dispute.id)},
    )
    notify_all(
        session,
        dispute_notices(dispute, asset, NoticeKind.dispute_answered, actor_id=holder.id),
        now=now,
    )
    return _view(session, dispute, asset, view.side)


def write_message(
    session: Session, *, author: Account, dispute_id: uuid.UUID, body: str
) -> DisputeView:
    """A message in the thread of an undecided dispute, from a party or staff."""
    view = _locked(session, viewer=author, dispute_id=dispute_id)
    now = utcnow()
    _write(session, view, author=author, body=body, answer=False, now=now)
    record_event(
        session,
        action="dispute.message",
        actor_id=author.id,
        asset_id=view.asset.id,
        details={"dispute_id": str(view.dispute.id), "side": view.side.value},
    )
    notify_all(
        session,
        dispute_notices(view.dispute, view.asset, NoticeKind.dispute_message, actor_id=author.id),
        now=now,
    )
    return _view(session, view.dispute, view.asset, view.side)


def decide_dispute(
    session: Session, *, staff: Account, dispute_id: uuid.UUID, uphold: bool, reason: str
) -> DisputeView:
    """Uphold or dismiss an answered dispute, or an open one whose answer is overdue (see the
    module); never by a party."""
    view = _locked(session, viewer=staff, dispute_id=dispute_id)
    dispute, asset = view.dispute, view.asset
    if view.side != PartySide.staff:
        raise PartyToDispute(
            "You are a party to this dispute (you opened it, or you hold its asset): another "
            "member of staff must decide it."
        )
    now = utcnow()
    if dispute.status == DisputeStatus.open and now < dispute.answer_due_at:
        raise NotDecidable(
            f"The holder may answer until {dispute.answer_due_at.isoformat()}; decide it once "
            "they answered or that time has passed."
        )
    dispute.status = DisputeStatus.upheld if uphold else DisputeStatus.dismissed
    dispute.decided_at, dispute.decided_by, dispute.decision_reason = now, staff.id, reason
    session.add(dispute)
    if uphold and asset.standing in (AssetStanding.active, AssetStanding.in_review):
        asset.standing = AssetStanding.disputed
        text_catalogue.stamp_change(session, asset)
    session.flush()
    entries = settle_held_shares(
        session,
        asset=asset,
        reason=f"dispute {dispute.id} {dispute.status.value}: {reason}",
        now=now,
    )
    record_event(
        session,
        action=f"dispute.{dispute.status.value}",
        actor_id=staff.id,
        asset_id=asset.id,
        details={
            "dispute_id": str(dispute.id),
            "reason": reason,
            "standing": asset.standing.value,
            "ledger_entries": [entry.key for entry in entries],
        },
    )
    notify_all(
        session,
        dispute_notices(dispute, asset, NoticeKind.dispute_decided, extra={"reason": reason}),
        now=now,
    )
    return _view(session, dispute, asset, view.side)


def answer_overdue(dispute: Dispute, *, now: datetime | None = None) -> bool:
    """Whether an open dispute's answer is overdue, so that staff may decide it unanswered."""
    return dispute.status == DisputeStatus.open and (now or utcnow()) >= dispute.answer_due_at
