"""A dispute's answer deadline, told by the deadline sweep of the notice worker's rounds: the
holder is reminded ``dispute_reminder_hours`` before it, and once it passes unanswered both
parties are told that staff may now decide. Each goes once, is audited, and nobody is told
about an answered dispute; two sweeps at the same moment tell once."""

import threading
import uuid
from collections import Counter
from datetime import timedelta

from factories import create_asset, sign_up
from sqlalchemy import update
from sqlmodel import Session, col, select

from audit.models import AuditEntry
from clearhouse.db import utcnow
from clearhouse.deadlines import sweep_deadlines
from notifications.models import Notice
from rights.disputes.deadlines import remind_answers_due, tell_answers_overdue
from rights.disputes.models import Dispute

STATEMENT = "This character is a copy of the one our studio published in 2015."
RACED_DISPUTES = 4


def _opened(client, opener, holder) -> dict:
    asset = create_asset(client, holder, kind="character")
    answer = client.post(
        "/v1/disputes",
        headers=opener.headers,
        json={
            "asset_handle": f"@{asset['handle']}",
            "kind": "improper_registration",
            "statement": STATEMENT,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _due_in(engine, disputes: list[dict], delta: timedelta) -> None:
    """The disputes' answers are due ``delta`` from now (as if the days had gone by)."""
    with Session(engine) as session:
        session.exec(
            update(Dispute)
            .where(col(Dispute.id).in_([uuid.UUID(dispute["id"]) for dispute in disputes]))
            .values(answer_due_at=utcnow() + delta)
        )
        session.commit()


def _told(engine, kind: str) -> Counter:
    """(account, dispute) of each notice of ``kind`` written."""
    with Session(engine) as session:
        notices = session.exec(select(Notice).where(Notice.kind == kind)).all()
    return Counter((notice.account_id, notice.facts["dispute_id"]) for notice in notices)


def _audited(engine, action: str) -> Counter:
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()
    return Counter(entry.body["details"]["dispute_id"] for entry in entries)


def test_the_holder_is_reminded_before_the_deadline_then_both_are_told_once(
    client, engine, settings, holder
):
    opener = sign_up(client, role="creator")
    dispute = _opened(client, opener, holder)
    swept = sweep_deadlines(engine, settings=settings)
    assert (swept.disputes_reminded, swept.disputes_overdue) == (0, 0)  # 14 days to go

    _due_in(engine, [dispute], timedelta(hours=settings.dispute_reminder_hours - 1))
    assert sweep_deadlines(engine, settings=settings).disputes_reminded == 1
    assert sweep_deadlines(engine, settings=settings).disputes_reminded == 0
    assert _told(engine, "dispute.answer_due") == {(holder.id, dispute["id"]): 1}
    [reminder] = [
        notice
        for notice in client.get("/v1/notices", headers=holder.headers).json()["items"]
        if notice["kind"] == "dispute.answer_due"
    ]
    assert reminder["facts"]["answer_due_at"] and "needs your answer" in reminder["summary"]

    _due_in(engine, [dispute], -timedelta(seconds=1))
    swept = sweep_deadlines(engine, settings=settings)
    assert (swept.disputes_reminded, swept.disputes_overdue) == (0, 1)
    assert sweep_deadlines(engine, settings=settings).disputes_overdue == 0

    assert _told(engine, "dispute.answer_overdue") == {
        (holder.id, dispute["id"]): 1,
        (opener.id, dispute["id"]): 1,
    }
    assert _audited(engine, "dispute.answer_reminder") == {dispute["id"]: 1}
    assert _audited(engine, "dispute.answer_overdue") == {dispute["id"]: 1}
    read = client.get(f"/v1/disputes/{dispute['id']}", headers=opener.headers).json()
    assert read["status"] == "open"


def test_a_deadline_that_passed_unswept_is_told_overdue_without_a_late_reminder(
    client, engine, settings, holder
):
    dispute = _opened(client, sign_up(client, role="creator"), holder)
    _due_in(engine, [dispute], -timedelta(days=1))

    swept = sweep_deadlines(engine, settings=settings)

    assert (swept.disputes_reminded, swept.disputes_overdue) == (0, 1)
    assert not _told(engine, "dispute.answer_due")


def test_nobody_is_reminded_or_told_overdue_about_an_answered_dispute(
    client, engine, settings, holder
):
    dispute = _opened(client, sign_up(client, role="creator"), holder)
    answered = client.post(
        f"/v1/disputes/{dispute['id']}/answer",
        headers=holder.headers,
        json={"body": "We drew it ourselves in 2014."},
    )
    assert answered.status_code == 200, answered.text

    _due_in(engine, [dispute], timedelta(hours=1))
    assert sweep_deadlines(engine, settings=settings).disputes_reminded == 0
    _due_in(engine, [dispute], -timedelta(seconds=1))
    assert sweep_deadlines(engine, settings=settings).disputes_overdue == 0

    assert not _told(engine, "dispute.answer_due")
    assert not _told(engine, "dispute.answer_overdue")


def test_two_sweeps_at_the_same_moment_tell_each_deadline_once(client, engine, settings, holder):
    opener = sign_up(client, role="creator")
    disputes = [_opened(client, opener, holder) for _ in range(RACED_DISPUTES)]
    reminded, overdue = disputes[:2], disputes[2:]
    _due_in(engine, reminded, timedelta(hours=1))
    _due_in(engine, overdue, -timedelta(seconds=1))
    lead = timedelta(hours=settings.dispute_reminder_hours)
    start = threading.Barrier(2, timeout=30)
    marked: list[list[uuid.UUID]] = []

    def sweep() -> None:
        start.wait()
        now = utcnow()
        marked.append(remind_answers_due(engine, now=now, lead=lead))
        marked.append(tell_answers_overdue(engine, now=now))

    sweeps = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in sweeps:
        thread.start()
    for thread in sweeps:
        thread.join(timeout=120)

    assert len(marked) == 4
    ids = sorted(str(dispute_id) for each in marked for dispute_id in each)
    assert ids == sorted(dispute["id"] for dispute in disputes)
    assert _told(engine, "dispute.answer_due") == {(holder.id, d["id"]): 1 for d in reminded}
    assert _told(engine, "dispute.answer_overdue") == {
        (account, d["id"]): 1 for account in (holder.id, opener.id) for d in overdue
    }
    assert _audited(engine, "dispute.answer_reminder") == dict.fromkeys(
        [d["id"] for d in reminded], 1
    )
    assert _audited(engine, "dispute.answer_overdue") == dict.fromkeys(
        [d["id"] for d in overdue], 1
    )
