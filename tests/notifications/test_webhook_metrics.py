"""Webhook attempts in /metrics, by what each came to: delivered, retrying, failed."""

from datetime import timedelta

from factories import promote, sign_up
from metrics_scraping import scraped, value
from noticing import tell
from webhook_receiver import register

from clearhouse.db import utcnow
from notifications.delivery import deliver_due
from notifications.kinds import NoticeKind

OUTCOMES = ("delivered", "retrying", "failed")


def _attempts(client, admin) -> dict[str, float]:
    scrape = scraped(client, admin.headers)
    return {
        outcome: value(scrape, "clearhouse_webhook_deliveries_total", outcome=outcome)
        for outcome in OUTCOMES
    }


def test_each_webhook_attempt_is_counted_by_its_outcome(
    client, session, holder, engine, settings, receiver
):
    admin = promote(session, sign_up(client), "admin")
    before = _attempts(client, admin)
    register(client, holder, receiver, "/flaky")
    receiver.failing_first.add("/flaky")
    tell(engine, holder.id, NoticeKind.use_released, handle="captain", fee_minor=150)
    other = sign_up(client)
    register(client, other, receiver, "/down")
    receiver.down.add("/down")
    tell(engine, other.id, NoticeKind.use_blocked, handle="captain")

    now = utcnow()
    for attempt in range(settings.webhook_max_attempts):  # the pauses: 1, 2, 4... times the first
        deliver_due(engine, settings=settings, now=now)
        now += timedelta(seconds=settings.webhook_retry_seconds * 2**attempt)
    after = _attempts(client, admin)

    # /flaky: failed once, then delivered; /down: failed every attempt, then gave up.
    assert {outcome: after[outcome] - before[outcome] for outcome in OUTCOMES} == {
        "delivered": 1,
        "retrying": 1 + settings.webhook_max_attempts - 1,
        "failed": 1,
    }
