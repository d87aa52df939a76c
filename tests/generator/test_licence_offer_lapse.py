"""Licence offers that lapse: a pending offer past its expiry is recorded as lapsed once (in
its asset's audit log) and its owner and its creator are told, by the deadline sweep of the
notice worker's rounds; an offer still open or answered is left alone, and two sweeps at the
same moment tell each lapse once."""

import threading
import uuid
from collections import Counter
from datetime import timedelta

from offering import answer, offer, third_party_blocked_uses
from sqlalchemy import update
from sqlmodel import Session, col, select

from audit.models import AuditEntry
from clearhouse.db import utcnow
from clearhouse.deadlines import sweep_deadlines
from licensing.offers.lapse import lapse_offers
from licensing.offers.models import LicenceOffer
from notifications.models import Notice

RACED_OFFERS = 6


def _expire(engine, offer_ids: list[str]) -> None:
    """The offers' time passes unanswered."""
    with Session(engine) as session:
        session.exec(
            update(LicenceOffer)
            .where(col(LicenceOffer.id).in_([uuid.UUID(offer_id) for offer_id in offer_ids]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()


def _lapse_notices(engine) -> Counter:
    """(account, offer) of each ``offer.lapsed`` notice written."""
    with Session(engine) as session:
        notices = session.exec(select(Notice).where(Notice.kind == "offer.lapsed")).all()
    return Counter((notice.account_id, notice.facts["offer_id"]) for notice in notices)


def _lapses_audited(engine) -> Counter:
    with Session(engine) as session:
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.action == "licence_offer.lapsed")
        ).all()
    return Counter(entry.body["details"]["offer_id"] for entry in entries)


def test_an_offer_that_lapses_is_recorded_and_both_parties_are_told_once(
    client, engine, settings, holder, requester
):
    [use], character = third_party_blocked_uses(client, holder, requester)
    offered = offer(client, holder, use).json()
    assert sweep_deadlines(engine, settings=settings).offers_lapsed == 0  # still open
    _expire(engine, [offered["id"]])

    assert sweep_deadlines(engine, settings=settings).offers_lapsed == 1
    assert sweep_deadlines(engine, settings=settings).offers_lapsed == 0

    for user in (holder, requester):
        items = client.get("/v1/notices", headers=user.headers).json()["items"]
        [told] = [notice for notice in items if notice["kind"] == "offer.lapsed"]
        assert told["facts"]["offer_id"] == offered["id"]
        assert told["facts"]["handle"] == character["handle"]
        assert "lapsed unanswered" in told["summary"]
    assert _lapses_audited(engine) == {offered["id"]: 1}
    read = client.get(f"/v1/licence-offers/{offered['id']}", headers=requester.headers)
    assert read.json()["state"] == "expired"
    refused = answer(client, requester, offered["id"], "accept")
    assert refused.status_code == 409 and "expired" in refused.json()["detail"]
    # Lapsed, the owner may offer again.
    assert offer(client, holder, use).status_code == 201


def test_an_offer_lapsed_by_a_clock_ahead_of_this_one_cannot_be_accepted(
    client, engine, holder, requester
):
    """The sweep of a process whose clock runs ahead lapses an offer this process still reads
    as open: accepting it is refused all the same, and nothing is told twice."""
    [use], _ = third_party_blocked_uses(client, holder, requester)
    offered = offer(client, holder, use).json()
    ahead = utcnow() + timedelta(hours=client.app.state.settings.licence_offer_hours + 1)
    assert lapse_offers(engine, now=ahead) == [uuid.UUID(offered["id"])]

    refused = answer(client, requester, offered["id"], "accept")

    assert refused.status_code == 409, refused.text
    read = client.get(f"/v1/licence-offers/{offered['id']}", headers=requester.headers)
    assert read.json()["state"] == "expired"
    assert answer(client, requester, offered["id"], "decline").status_code == 409
    assert sum(_lapse_notices(engine).values()) == 2


def test_answered_offers_never_lapse(client, engine, settings, holder, requester):
    uses, _ = third_party_blocked_uses(client, holder, requester, checks=2, seed=17)
    accepted, declined = (offer(client, holder, use).json()["id"] for use in uses)
    assert answer(client, requester, accepted, "accept").status_code == 200
    assert answer(client, requester, declined, "decline").status_code == 200
    _expire(engine, [accepted, declined])

    assert sweep_deadlines(engine, settings=settings).offers_lapsed == 0

    assert not _lapse_notices(engine) and not _lapses_audited(engine)


def test_two_sweeps_at_the_same_moment_tell_each_lapse_once(
    client, engine, settings, holder, requester
):
    uses, _ = third_party_blocked_uses(client, holder, requester, checks=RACED_OFFERS, seed=19)
    offer_ids = [offer(client, holder, use).json()["id"] for use in uses]
    _expire(engine, offer_ids)
    start = threading.Barrier(2, timeout=30)
    lapsed: list[list[uuid.UUID]] = []

    def sweep() -> None:
        start.wait()
        lapsed.append(lapse_offers(engine, now=utcnow()))

    sweeps = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in sweeps:
        thread.start()
    for thread in sweeps:
        thread.join(timeout=120)

    assert len(lapsed) == 2
    assert sorted(str(offer_id) for each in lapsed for offer_id in each) == sorted(offer_ids)
    assert _lapses_audited(engine) == dict.fromkeys(offer_ids, 1)
    told = _lapse_notices(engine)
    assert set(told.values()) == {1}, told
    assert set(told) == {
        (account, offer_id) for account in (holder.id, requester.id) for offer_id in offer_ids
    }
