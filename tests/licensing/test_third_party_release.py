"""A third-party generator's release: its clearance's first output check that allows release
licenses and charges the use in that check's transaction, like our generator's release (the
same split, held shares and ledger entry, once, and its owner told); a consent withdrawn since
the clearance blocks it and charges nothing; the owner's usage view and statement show it."""

import uuid

import pytest
from claiming import submit_claim, verified
from clearing import check_output, usage
from factories import granted_asset
from generating import USD_POLICY
from sqlmodel import Session, select
from third_party import OUTPUT, charges_and_licences, third_party_clearance

from clearhouse.db import snapshot_session
from payouts.accounts import held, payable, platform, wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import AccountKind, HeldShare, HeldShareState, JournalEntry
from payouts.split import holder_share
from payouts.statements import Period
from payouts.usage import third_party_release_key
from policies.models import PolicyVersion

pytestmark = pytest.mark.still_photos


def _fee(clearance: dict, asset_id: str) -> int:
    return sum(
        line["amount_minor"] for line in clearance["quote"]["lines"] if line["asset_id"] == asset_id
    )


def _share_bps(engine, asset_id: str) -> int:
    with Session(engine) as session:
        return session.exec(
            select(PolicyVersion.revenue_share_bps).where(
                PolicyVersion.asset_id == uuid.UUID(asset_id)
            )
        ).one()


def _entries(engine, clearance_id: str) -> list[JournalEntry]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(JournalEntry).where(JournalEntry.clearance_id == uuid.UUID(clearance_id))
            ).all()
        )


def _balances(engine, holder_id, creator_id) -> dict[str, int]:
    with snapshot_session(engine) as session:
        report = check_ledger(session)
        assert report.ok, report
        return {
            "wallet": balance_of(session, wallet(creator_id, "USD")),
            "payable": balance_of(session, payable(holder_id, "USD")),
            "held": balance_of(session, held(holder_id, "USD")),
            "platform": balance_of(session, platform(AccountKind.platform_revenue, "USD")),
        }


def test_a_third_party_release_is_charged_once_with_the_split_and_shown_to_the_owner(
    client, engine, session, holder, requester
):
    asset, _ = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    verified(client, session, holder, asset["id"])
    clearance = third_party_clearance(client, requester)
    total, fee = clearance["quote"]["total_minor"], _fee(clearance, asset["id"])
    share = holder_share(fee, _share_bps(engine, asset["id"]))
    assert 0 < share < fee < total
    before = _balances(engine, holder.id, requester.id)

    first = check_output(client, requester, clearance["id"], [OUTPUT])
    assert first.status_code == 200, first.text
    assert first.json()["verdict"] == "release_allowed"
    assert first.json()["charged"] == {"amount_minor": total, "currency": "USD"}
    after = _balances(engine, holder.id, requester.id)
    assert {name: after[name] - before[name] for name in after} == {
        "wallet": -total,
        "payable": share,
        "held": 0,
        "platform": total - share,
    }
    [entry] = _entries(engine, clearance["id"])
    assert (entry.idempotency_key, entry.event, entry.generation_id) == (
        third_party_release_key(uuid.UUID(clearance["id"])),
        "usage",
        None,
    )

    # A second allowed check of the same clearance charges and posts nothing more.
    again = check_output(client, requester, clearance["id"], [OUTPUT]).json()
    assert (again["verdict"], again["charged"]) == ("release_allowed", None)
    assert len(_entries(engine, clearance["id"])) == 1
    assert charges_and_licences(engine, clearance["id"]) == (1, 1)
    assert _balances(engine, holder.id, requester.id) == after

    [use] = usage(client, holder, asset["id"])
    assert (use["state"], use["generation_id"], use["licence_fee_minor"], use["currency"]) == (
        "released",
        None,
        fee,
        "USD",
    )
    statements = client.get(
        "/v1/statements",
        headers=holder.headers,
        params={"period": str(Period.containing(entry.posted_at))},
    ).json()["statements"]
    [line] = [
        line for statement in statements for line in statement["lines"] if line["kind"] == "use"
    ]
    assert (line["clearance_id"], line["generation_id"], line["asset_id"]) == (
        clearance["id"],
        None,
        asset["id"],
    )
    assert (line["amount_minor"], line["gross_minor"], line["fee_minor"]) == (
        share,
        fee,
        fee - share,
    )
    # The owner hears of it once, with the fee; the second check told nothing more.
    notices = client.get("/v1/notices", headers=holder.headers).json()["items"]
    [released] = [notice for notice in notices if notice["kind"] == "use.released"]
    assert released["facts"] == {
        "asset_id": asset["id"],
        "handle": "nova_knight",
        "clearance_id": clearance["id"],
        "fee_minor": fee,
        "currency": "USD",
    }


def test_a_grant_revoked_after_clearance_blocks_the_release_and_charges_nothing(
    client, engine, session, holder, requester
):
    asset, granted = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    verified(client, session, holder, asset["id"])
    clearance = third_party_clearance(client, requester)
    before = _balances(engine, holder.id, requester.id)
    revoked = client.post(
        f"/v1/grants/{granted['grant']['id']}/revoke", headers=holder.headers, json={}
    )
    assert revoked.status_code == 200, revoked.text

    answer = check_output(client, requester, clearance["id"], [OUTPUT])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["verdict"], body["charged"]) == ("release_blocked", None)
    [reason] = body["reasons"]
    assert "@nova_knight" in reason and "withdrawn" in reason and "Nothing is charged" in reason
    assert _entries(engine, clearance["id"]) == []
    assert charges_and_licences(engine, clearance["id"]) == (0, 0)
    assert _balances(engine, holder.id, requester.id) == before
    [use] = usage(client, holder, asset["id"])
    assert use["state"] != "released" and use["licence_fee_minor"] is None


def test_an_unverified_holders_share_of_a_third_party_release_is_held(
    client, engine, holder, requester
):
    asset, _ = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    submit_claim(client, holder, asset["id"])  # pending: the asset does not earn yet
    clearance = third_party_clearance(client, requester)
    share = holder_share(_fee(clearance, asset["id"]), _share_bps(engine, asset["id"]))

    body = check_output(client, requester, clearance["id"], [OUTPUT]).json()
    assert body["verdict"] == "release_allowed" and body["charged"] is not None
    balances = _balances(engine, holder.id, requester.id)
    assert (balances["held"], balances["payable"]) == (share, 0)
    with Session(engine) as fresh:
        [row] = fresh.exec(select(HeldShare)).all()
    assert (row.clearance_id, row.generation_id, row.amount_minor, row.state) == (
        uuid.UUID(clearance["id"]),
        None,
        share,
        HeldShareState.held,
    )
