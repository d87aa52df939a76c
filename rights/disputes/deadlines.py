"""A dispute's answer deadline, told: its holder is reminded ``dispute_reminder_hours`` before
``answer_due_at`` (``dispute.answer_due``), and once it passes unanswered both parties are told
that staff may now decide (``dispute.answer_overdue``). The deadline sweep each round of the
notice worker runs does both (clearhouse/deadlines.py); each is audited.

Each notice goes once, however many workers sweep at the same moment: a dispute is marked in
a transaction of its own by a conditional update (still open, not yet marked), so a second
sweep's update waits for the first to commit, then matches nothing. An answer that locked the
dispute first wins the same way: it is no longer open. A reminder whose moment passed with the
deadline (no worker ran) is not sent late: the overdue notice says more.
"""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, update
from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.db import read_session, write_session
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from rights.disputes.models import Dispute, DisputeStatus
from rights.disputes.service import dispute_notices
from rights.models import Asset

#: The most disputes one sweep marks of each kind; the rest wait for the next round.
MARKS_PER_SWEEP = 200


def remind_answers_due(engine: Engine, *, now: datetime, lead: timedelta) -> list[uuid.UUID]:
    """Remind the holder of every open dispute whose answer is due within ``lead``; the ids
    this sweep reminded."""
    return _mark_each(
        engine,
        marked=col(Dispute.answer_reminded_at),
        due=(Dispute.answer_due_at > now) & (Dispute.answer_due_at <= now + lead),
        now=now,
        tell=_reminder,
    )


def tell_answers_overdue(engine: Engine, *, now: datetime) -> list[uuid.UUID]:
    """Tell both parties of every open dispute whose answer is overdue that staff may decide;
    the ids this sweep told."""
    return _mark_each(
        engine,
        marked=col(Dispute.overdue_told_at),
        due=Dispute.answer_due_at <= now,
        now=now,
        tell=_overdue,
    )


def _mark_each(
    engine: Engine,
    *,
    marked,
    due: ColumnElement[bool],
    now: datetime,
    tell: Callable[[Session, Dispute, Asset, datetime], None],
) -> list[uuid.UUID]:
    """Set the column ``marked`` of each open, unmarked dispute that is ``due``, and
    ``tell`` its parties, in a transaction of its own per dispute (see the module)."""
    still_open = (Dispute.status == DisputeStatus.open) & marked.is_(None)
    with read_session(engine) as session:
        found = session.exec(
            select(Dispute.id)
            .where(still_open, due)
            .order_by(Dispute.answer_due_at, Dispute.id)
            .limit(MARKS_PER_SWEEP)
        ).all()
    told = []
    for dispute_id in found:
        with write_session(engine) as session:
            taken = session.execute(
                update(Dispute)
                .where(Dispute.id == dispute_id, still_open)
                .values({marked.key: now})
            ).rowcount
            if taken:
                dispute = session.get(Dispute, dispute_id)
                tell(session, dispute, session.get(Asset, dispute.asset_id), now)
                told.append(dispute_id)
    return told


def _reminder(session: Session, dispute: Dispute, asset: Asset, now: datetime) -> None:
    """The holder's reminder (the opener waits for the answer: nothing to tell them)."""
    _audited_notices(
        session,
        dispute,
        asset,
        action="dispute.answer_reminder",
        drafts=[
            draft
            for draft in dispute_notices(
                dispute, asset, NoticeKind.dispute_answer_due, extra=_due(dispute)
            )
            if draft.account_id == asset.owner_id
        ],
        now=now,
    )


def _overdue(session: Session, dispute: Dispute, asset: Asset, now: datetime) -> None:
    _audited_notices(
        session,
        dispute,
        asset,
        action="dispute.answer_overdue",
        drafts=dispute_notices(
            dispute, asset, NoticeKind.dispute_answer_overdue, extra=_due(dispute)
        ),
        now=now,
    )


def _due(dispute: Dispute) -> dict[str, str]:
    return {"answer_due_at": dispute.answer_due_at.isoformat()}


def _audited_notices(
    session: Session,
    dispute: Dispute,
    asset: Asset,
    *,
    action: str,
    drafts: list[NoticeDraft],
    now: datetime,
) -> None:
    record_event(
        session,
        action=action,
        actor_id=None,  # the deadline's, not a person's
        asset_id=asset.id,
        details={"dispute_id": str(dispute.id), **_due(dispute)},
    )
    notify_all(session, drafts, now=now)
