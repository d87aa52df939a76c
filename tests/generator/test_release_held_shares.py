"""A released generation of an unverified character: its holder's share is held, not payable;
the clearance answer says the holder is not verified; verifying the claim pays it in (one
entry), rejecting it gives it back to the creator."""

import uuid

from claiming import decide, moderator, submit_claim
from factories import granted_asset
from generating import USD_POLICY, ask, generator_runtime
from sqlmodel import Session, select

from clearhouse.db import snapshot_session
from generator.models import JobState
from generator.tasks import run_job
from payouts.accounts import held, payable, wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import HeldShare, HeldShareState, JournalEntry

SHARE = 128  # 80% of the USD 1.60 fee


def _release(client, requester, clip_pipeline) -> tuple[uuid.UUID, dict]:
    body = ask(client, requester, "Nova Knight at sea")
    assert body["clearance"]["outcome"] == "cleared", body
    generation_id = uuid.UUID(body["generation"]["id"])
    assert run_job(generation_id, runtime=generator_runtime(client, clip_pipeline)) == (
        JobState.released
    )
    return generation_id, body["clearance"]


def _balances(engine, holder_id, creator_id) -> tuple[int, int, int]:
    with snapshot_session(engine) as session:
        check = check_ledger(session)
        assert check.ok, check
        return (
            balance_of(session, held(holder_id, "USD")),
            balance_of(session, payable(holder_id, "USD")),
            balance_of(session, wallet(creator_id, "USD")),
        )


def _settled(engine, generation_id) -> HeldShare:
    with Session(engine) as session:
        return session.exec(select(HeldShare).where(HeldShare.generation_id == generation_id)).one()


def test_an_unverified_characters_share_is_held_then_paid_in_once_verified(
    client, engine, session, holder, requester, clip_pipeline
):
    asset, _ = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    claim = submit_claim(client, holder, asset["id"])["claim"]
    generation_id, clearance = _release(client, requester, clip_pipeline)
    (touched,) = clearance["assets"]
    assert (touched["handle"], touched["holder_verified"]) == ("nova_knight", False)
    _, _, wallet_after_use = _balances(engine, holder.id, requester.id)
    assert _balances(engine, holder.id, requester.id)[:2] == (SHARE, 0)

    staff = moderator(client, session)
    decide(client, staff, claim["id"], "verify")
    assert _balances(engine, holder.id, requester.id) == (0, SHARE, wallet_after_use)
    share = _settled(engine, generation_id)
    assert share.state == HeldShareState.paid
    with Session(engine) as db:
        (entry,) = db.exec(
            select(JournalEntry).where(JournalEntry.idempotency_key == share.settled_key)
        ).all()
    assert entry.event == "held_release"

    # Verified now: the next use earns at once, and the answer says so.
    _, clearance = _release(client, requester, clip_pipeline)
    assert clearance["assets"][0]["holder_verified"] is True
    assert _balances(engine, holder.id, requester.id)[:2] == (0, 2 * SHARE)


def test_a_rejected_claim_gives_the_held_share_back_to_the_creator(
    client, engine, session, holder, requester, clip_pipeline
):
    asset, _ = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    claim = submit_claim(client, holder, asset["id"])["claim"]
    generation_id, _ = _release(client, requester, clip_pipeline)
    _, _, wallet_after_use = _balances(engine, holder.id, requester.id)

    decide(client, moderator(client, session), claim["id"], "reject", "not theirs")
    assert _balances(engine, holder.id, requester.id) == (0, 0, wallet_after_use + SHARE)
    assert _settled(engine, generation_id).state == HeldShareState.returned
    # Rejected: a later use's share goes straight back too; the answer says unverified.
    later, clearance = _release(client, requester, clip_pipeline)
    assert clearance["assets"][0]["holder_verified"] is False
    assert _settled(engine, later).state == HeldShareState.returned
    assert _balances(engine, holder.id, requester.id)[:2] == (0, 0)
