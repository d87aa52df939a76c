"""The inbox through the API (own notices only, paged, marked read) and the email digest: one
email per account with its unsent notices, as often as the account chose."""

from datetime import timedelta
from mailbox import mail_to

from factories import sign_up, verify_email
from noticing import tell
from sqlmodel import Session

from clearhouse.db import utcnow
from notifications.digest import send_digests
from notifications.kinds import NoticeKind
from notifications.models import Notice


def test_the_inbox_lists_ones_own_notices_newest_first_and_marks_them_read(client, holder, engine):
    for handle in ("first", "second", "third"):
        tell(engine, holder.id, NoticeKind.use_released, handle=handle)
    theirs = tell(engine, sign_up(client).id, NoticeKind.use_released, handle="not yours")

    page = client.get("/v1/notices?limit=2", headers=holder.headers).json()
    assert page["total"] == 3
    assert [n["facts"]["handle"] for n in page["items"]] == ["third", "second"]
    assert page["items"][0]["summary"] == NoticeKind.use_released.summary
    assert client.get("/v1/notices/unread", headers=holder.headers).json() == {"unread": 3}

    newest = page["items"][0]["id"]
    read = client.post(f"/v1/notices/{newest}/read", headers=holder.headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = client.get("/v1/notices?unread=true", headers=holder.headers).json()
    assert [n["facts"]["handle"] for n in unread["items"]] == ["second", "first"]

    # Another account's notice is not found, and stays unread.
    other = client.post(f"/v1/notices/{theirs.id}/read", headers=holder.headers)
    assert other.status_code == 404
    assert client.post("/v1/notices/read", headers=holder.headers).json() == {"marked": 2}
    assert client.get("/v1/notices/unread", headers=holder.headers).json() == {"unread": 0}
    with Session(engine) as session:
        assert session.get(Notice, theirs.id).read_at is None


def test_a_digest_carries_every_unsent_notice_in_one_email(client, holder, engine, settings):
    chosen = client.put(
        "/v1/notices/preferences", headers=holder.headers, json={"email_digest": "immediate"}
    )
    assert chosen.status_code == 200 and chosen.json()["email_digest"] == "immediate"
    tell(engine, holder.id, NoticeKind.use_released, handle="captain", fee_minor=150)
    tell(engine, holder.id, NoticeKind.approval_pending, handle="captain")
    before = len(mail_to(client, holder.email))

    assert send_digests(engine, mailer=client.app.state.mailer, settings=settings) == 1
    [digest] = mail_to(client, holder.email)[before:]
    assert digest["subject"] == "Clearhouse: 2 new notices"
    assert NoticeKind.use_released.summary in digest["body"]
    assert NoticeKind.approval_pending.summary in digest["body"]
    assert "handle: captain; fee minor: 150" in digest["body"]
    assert "/notices/preferences" in digest["body"]
    # Sent once: nothing new, no email.
    assert send_digests(engine, mailer=client.app.state.mailer, settings=settings) == 0


def test_no_digest_goes_to_an_address_nobody_verified(client, engine, settings):
    """Anyone can sign up with an address that is not theirs: whoever reads its mail gets the
    link to verify it, and no digest of notices until they follow it."""
    unverified = sign_up(client, verified=False)
    tell(engine, unverified.id, NoticeKind.use_blocked, handle="captain")
    mailer = client.app.state.mailer
    assert send_digests(engine, mailer=mailer, settings=settings) == 0
    assert [m["subject"] for m in mail_to(client, unverified.email)] == [
        "Verify your email address for Clearhouse"
    ]

    verify_email(client, unverified.email)
    assert send_digests(engine, mailer=mailer, settings=settings) == 1
    assert mail_to(client, unverified.email)[-1]["subject"] == "Clearhouse: 1 new notice"


def test_a_daily_digest_waits_a_day_and_none_sends_nothing(client, holder, engine, settings):
    mailer = client.app.state.mailer
    tell(engine, holder.id, NoticeKind.use_blocked, handle="captain")
    now = utcnow()
    assert send_digests(engine, mailer=mailer, settings=settings, now=now) == 1  # daily, first
    tell(engine, holder.id, NoticeKind.use_blocked, handle="captain")
    assert (
        send_digests(engine, mailer=mailer, settings=settings, now=now + timedelta(hours=23)) == 0
    )
    assert (
        send_digests(engine, mailer=mailer, settings=settings, now=now + timedelta(hours=24)) == 1
    )

    client.put("/v1/notices/preferences", headers=holder.headers, json={"email_digest": "none"})
    tell(engine, holder.id, NoticeKind.use_blocked, handle="captain")
    assert send_digests(engine, mailer=mailer, settings=settings, now=now + timedelta(days=9)) == 0
    bad = client.put(
        "/v1/notices/preferences", headers=holder.headers, json={"email_digest": "hourly"}
    )
    assert bad.status_code == 422
