"""The payout routes (both databases): a holder's onboarding and their own payouts, nobody
else's; the admin's payout run; Stripe off refused with a problem and nothing stored."""

import itertools
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from factories import promote, sign_up
from fastapi.testclient import TestClient
from live_server import uvicorn_in_thread
from organising import add, organisation
from paying import earn, stripe_on
from sqlmodel import Session, select
from stripe_connect_fake import ConnectFake
from stripe_local import WEBHOOK_SECRET, deliver, stripe_event

from audit.models import AuditEntry
from clearhouse.app import create_app
from clearhouse.db import utcnow
from clearhouse.settings import Settings
from payouts.payout_models import PayoutAccount
from payouts.statements import Period


@pytest.fixture
def paying_client(settings: Settings, fake: ConnectFake) -> Iterator[TestClient]:
    settings = stripe_on(settings, fake, public_url="https://clearhouse.test")
    with TestClient(create_app(settings)) as client:
        yield client


def test_onboarding_makes_one_connected_account_and_gives_a_link_each_time(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)

    first = paying_client.post("/v1/payouts/onboarding", headers=holder.headers)
    second = paying_client.post("/v1/payouts/onboarding", headers=holder.headers)

    assert first.status_code == second.status_code == 200, first.text
    account_id = first.json()["stripe_account_id"]
    assert second.json()["stripe_account_id"] == account_id
    assert list(fake.accounts) == [account_id]
    assert fake.accounts[account_id]["type"] == "express"
    assert (
        first.json()["url"].startswith(fake.base_url)
        and first.json()["url"] != second.json()["url"]
    )
    assert [link["account"] for link in fake.account_links] == [account_id, account_id]
    assert fake.account_links[0]["refresh_url"].startswith("https://clearhouse.test/")
    assert fake.account_links[0]["return_url"].startswith("https://clearhouse.test/")
    state = paying_client.get("/v1/payouts", headers=holder.headers).json()
    assert state["connected_account"] == {
        "stripe_account_id": account_id,
        "details_submitted": False,
        "payouts_enabled": False,
        "charges_enabled": False,
        "requirements_due": [],
        "disabled_reason": None,
        "reported_at": None,  # no account.updated yet: read from Stripe
    }


def test_a_holder_sees_their_own_payouts_and_nobody_else_does(
    paying_client: TestClient, fake: ConnectFake, session: Session
) -> None:
    holder, other = sign_up(paying_client), sign_up(paying_client)
    admin = promote(session, sign_up(paying_client), "admin")
    for person in (holder, other):
        assert (
            paying_client.post("/v1/payouts/onboarding", headers=person.headers).status_code == 200
        )
    earn(paying_client.app.state.engine, holder.id, 2_400)

    run = paying_client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-10"})

    assert run.status_code == 200, run.text
    (payout_id,) = run.json()["paid"]
    mine = paying_client.get("/v1/payouts", headers=holder.headers).json()["payouts"]
    assert [(p["id"], p["amount_minor"], p["state"]) for p in mine] == [(payout_id, 2_400, "paid")]
    assert paying_client.get(f"/v1/payouts/{payout_id}", headers=holder.headers).status_code == 200

    mine_account = paying_client.get("/v1/payouts", headers=holder.headers).json()
    theirs = paying_client.get("/v1/payouts", headers=other.headers).json()
    assert theirs["payouts"] == []
    assert (
        theirs["connected_account"]["stripe_account_id"]
        != mine_account["connected_account"]["stripe_account_id"]
    )
    refused = paying_client.get(f"/v1/payouts/{payout_id}", headers=other.headers)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"


def test_only_an_admin_runs_payouts(paying_client: TestClient, session: Session) -> None:
    holder = sign_up(paying_client)
    admin = promote(session, sign_up(paying_client), "admin")
    body = {"period": "2026-10"}

    assert (
        paying_client.post("/v1/payouts/runs", headers=holder.headers, json=body).status_code == 403
    )
    assert paying_client.post("/v1/payouts/runs", json=body).status_code == 401
    bad = paying_client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-13"})
    assert bad.status_code == 422
    assert (
        paying_client.post("/v1/payouts/runs", headers=admin.headers, json=body).status_code == 200
    )


def test_an_admin_s_run_of_a_month_not_yet_over_is_a_problem_and_pays_nobody(
    paying_client: TestClient, fake: ConnectFake, session: Session
) -> None:
    holder = sign_up(paying_client)
    admin = promote(session, sign_up(paying_client), "admin")
    assert paying_client.post("/v1/payouts/onboarding", headers=holder.headers).status_code == 200
    earn(paying_client.app.state.engine, holder.id, 2_400)
    this_month = Period.containing(utcnow())

    for period in (
        this_month,
        Period.containing(this_month.ends_at),
        Period(2999, 1),
        Period(9999, 12),
    ):
        refused = paying_client.post(
            "/v1/payouts/runs", headers=admin.headers, json={"period": str(period)}
        )

        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/payout-period-not-ended")
        assert f"{period} has not ended" in refused.json()["detail"]
    assert paying_client.get("/v1/payouts", headers=holder.headers).json()["payouts"] == []
    assert fake.transfers == {}


def test_a_creator_cannot_onboard(paying_client: TestClient, fake: ConnectFake) -> None:
    creator = sign_up(paying_client, role="creator")
    assert paying_client.post("/v1/payouts/onboarding", headers=creator.headers).status_code == 403
    assert fake.accounts == {}


def test_with_stripe_off_onboarding_is_a_problem_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    holder = sign_up(client)

    refused = client.post("/v1/payouts/onboarding", headers=holder.headers)

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/stripe-off")
    assert "CLEARHOUSE_STRIPE_SECRET_KEY" in refused.json()["detail"]
    assert session.exec(select(PayoutAccount)).all() == []
    assert client.get("/v1/payouts", headers=holder.headers).json() == {
        "connected_account": None,
        "payouts": [],
    }


def test_two_onboardings_at_once_make_one_connected_account(
    settings: Settings, fake: ConnectFake
) -> None:
    """Both requests find no account stored and ask Stripe to make one at the same moment
    (the fake holds the first until the second arrives): the idempotency key derived from the
    holder makes it one account, and both answer it."""
    arrived = threading.Barrier(2, timeout=60)  # generous: a loaded CI machine is slow
    arrivals = itertools.count()

    def both_at_once(method: str, path: str) -> None:
        # Only the first two are held: the one that finds the other's request still running
        # is answered 409 and retries, and its retry must not wait for a third.
        if (method, path) == ("POST", "/v1/accounts") and next(arrivals) < 2:
            arrived.wait()

    fake.on_request = both_at_once
    with uvicorn_in_thread(stripe_on(settings, fake)) as url, httpx.Client(base_url=url) as client:
        holder = sign_up(client)
        start = threading.Barrier(2)
        answers = []

        def onboard() -> None:
            start.wait()
            answer = client.post("/v1/payouts/onboarding", headers=holder.headers, timeout=30)
            answers.append(answer)

        threads = [threading.Thread(target=onboard) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    assert len(fake.accounts) == 1
    assert {answer.json()["stripe_account_id"] for answer in answers} == set(fake.accounts)


def _account_updated(account_id: str, *, created: int, payouts_enabled: bool, due=()) -> dict:
    account = {
        "id": account_id,
        "object": "account",
        "details_submitted": True,
        "payouts_enabled": payouts_enabled,
        "charges_enabled": payouts_enabled,
        "requirements": {
            "currently_due": list(due),
            "past_due": [],
            "disabled_reason": None if payouts_enabled else "requirements.past_due",
        },
    }
    return {**stripe_event("account.updated", account), "created": created}


def test_account_updated_sets_the_state_shown_and_a_run_skips_an_account_that_cannot_be_paid(
    settings: Settings, fake: ConnectFake, session: Session
) -> None:
    settings = stripe_on(settings, fake, stripe_webhook_secret=WEBHOOK_SECRET)
    with TestClient(create_app(settings)) as client:
        holder = sign_up(client)
        admin = promote(session, sign_up(client), "admin")
        account_id = client.post("/v1/payouts/onboarding", headers=holder.headers).json()[
            "stripe_account_id"
        ]
        earn(client.app.state.engine, holder.id, 2_400)
        now = int(time.time())
        enabled = _account_updated(account_id, created=now - 60, payouts_enabled=True)
        disabled = _account_updated(
            account_id, created=now, payouts_enabled=False, due=["external_account"]
        )
        # The newer state first, the older one late, each twice: the newer one stands.
        for event in (disabled, enabled, disabled, enabled):
            assert deliver(client, event).status_code == 200

        shown = client.get("/v1/payouts", headers=holder.headers).json()["connected_account"]
        assert shown["payouts_enabled"] is False and shown["details_submitted"] is True
        assert shown["requirements_due"] == ["external_account"]
        assert shown["disabled_reason"] == "requirements.past_due"
        assert shown["reported_at"] is not None
        run = client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-10"})
        assert run.status_code == 200, run.text
        [due] = run.json()["due"]
        assert due["holder_id"] == str(holder.id) and due["payouts_enabled"] is False
        assert "cannot receive payouts" in due["skipped_because"]
        assert run.json()["made"] == [] and fake.transfers == {}

        again = _account_updated(account_id, created=now + 60, payouts_enabled=True)
        assert deliver(client, again).status_code == 200
        run = client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-10"})
        assert len(run.json()["paid"]) == 1 and run.json()["due"][0]["skipped_because"] is None
        [transfer] = fake.transfers.values()
        assert (transfer["destination"], transfer["amount"]) == (account_id, 2_400)
        with Session(client.app.state.engine) as read:
            audited = read.exec(
                select(AuditEntry.action)
                .where(AuditEntry.action.startswith("payout_account"))
                .order_by(AuditEntry.seq)
            ).all()
    assert audited == [
        "payout_account.payouts_disabled",
        "payout_account.payouts_enabled",
    ]


def test_an_account_that_is_not_a_holders_changes_nothing(
    settings: Settings, fake: ConnectFake
) -> None:
    settings = stripe_on(settings, fake, stripe_webhook_secret=WEBHOOK_SECRET)
    with TestClient(create_app(settings)) as client:
        event = _account_updated("acct_stranger", created=int(time.time()), payouts_enabled=True)
        assert deliver(client, event).status_code == 200
        with Session(client.app.state.engine) as read:
            assert read.exec(select(PayoutAccount)).all() == []


def test_an_organisations_owners_set_up_where_it_is_paid_and_its_members_see_it(
    paying_client: TestClient, fake: ConnectFake, session: Session
) -> None:
    owner, manager, viewer, stranger = (sign_up(paying_client) for _ in range(4))
    studio = organisation(paying_client, owner)
    add(paying_client, owner, studio, manager, "manager")
    add(paying_client, owner, studio, viewer, "viewer")
    as_studio = {"organisation_id": studio}

    def onboard(person):
        return paying_client.post(
            "/v1/payouts/onboarding", headers=person.headers, params=as_studio
        )

    assert onboard(manager).status_code == 403  # a member whose role does not set it up
    assert onboard(stranger).status_code == 404  # nobody else learns the organisation exists
    assert fake.accounts == {}
    made = onboard(owner)
    assert made.status_code == 200, made.text
    account_id = made.json()["stripe_account_id"]
    # Stripe's contact is the owner who set it up; it comes back to the organisation's page.
    assert fake.accounts[account_id]["email"] == owner.email
    assert fake.account_links[-1]["return_url"].endswith(f"?organisation_id={studio}")
    stored = session.exec(select(PayoutAccount)).all()
    assert [(str(row.holder_id), row.stripe_account_id) for row in stored] == [(studio, account_id)]
    (entry,) = session.exec(
        select(AuditEntry).where(AuditEntry.action == "organisation.payout_account_created")
    ).all()
    assert entry.body["actor_id"] == str(owner.id)
    assert entry.body["details"]["subject_id"] == studio

    seen = paying_client.get("/v1/payouts", headers=viewer.headers, params=as_studio)
    assert seen.status_code == 200, seen.text
    assert seen.json()["connected_account"]["stripe_account_id"] == account_id
    hidden = paying_client.get("/v1/payouts", headers=stranger.headers, params=as_studio)
    assert hidden.status_code == 404
    # The organisation's account is not the owner's own.
    own = paying_client.get("/v1/payouts", headers=owner.headers).json()
    assert own["connected_account"] is None


def test_a_payout_run_pays_an_organisation_to_its_own_account(
    paying_client: TestClient, fake: ConnectFake, session: Session
) -> None:
    owner = sign_up(paying_client)
    admin = promote(session, sign_up(paying_client), "admin")
    studio = organisation(paying_client, owner)
    as_studio = {"organisation_id": studio}
    made = paying_client.post("/v1/payouts/onboarding", headers=owner.headers, params=as_studio)
    earn(paying_client.app.state.engine, uuid.UUID(studio), 2_400)

    run = paying_client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-10"})

    assert run.status_code == 200, run.text
    (payout_id,) = run.json()["paid"]
    (transfer,) = fake.transfers.values()
    assert transfer["destination"] == made.json()["stripe_account_id"]
    theirs = paying_client.get("/v1/payouts", headers=owner.headers, params=as_studio).json()
    assert [(p["id"], p["amount_minor"]) for p in theirs["payouts"]] == [(payout_id, 2_400)]
    assert paying_client.get("/v1/payouts", headers=owner.headers).json()["payouts"] == []
    # The payout listed is read by its id the same way; it is not the owner's own, and a
    # stranger naming the organisation learns nothing.
    one = paying_client.get(f"/v1/payouts/{payout_id}", headers=owner.headers, params=as_studio)
    assert one.status_code == 200, one.text
    assert one.json()["amount_minor"] == 2_400
    assert paying_client.get(f"/v1/payouts/{payout_id}", headers=owner.headers).status_code == 404
    stranger = sign_up(paying_client)
    hidden = paying_client.get(
        f"/v1/payouts/{payout_id}", headers=stranger.headers, params=as_studio
    )
    assert hidden.status_code == 404, hidden.text
