"""A released generation's charge in the ledger: posted in the release's own transaction,
split between the holder and the platform, reversed on a takedown."""

import uuid

from generating import RevokingAfterGenerating, charges_and_licences, generator_runtime, queued
from sqlmodel import Session, select

import generator.release
from clearhouse.db import snapshot_session, utcnow, write_session
from generator.models import JobState
from generator.tasks import run_job
from licensing.models import Charge, Licence
from payouts.accounts import payable, platform, wallet
from payouts.balances import balance_of, check_ledger
from payouts.journal import recorded_entries
from payouts.models import AccountKind
from payouts.takedowns import reverse_takedowns
from payouts.usage import release_key
from policies.models import PolicyVersion


def _entry(engine, generation_id):
    with Session(engine) as session:
        return recorded_entries(session.connection(), [release_key(generation_id)]).get(
            release_key(generation_id)
        )


def _released(client, requester, clip_pipeline) -> uuid.UUID:
    generation_id = uuid.UUID(queued(client, requester, "Nova Knight at sea"))
    runtime = generator_runtime(client, clip_pipeline)
    assert run_job(generation_id, runtime=runtime) == JobState.released
    return generation_id


def _allowance(client) -> int:
    """The free credits the creator's first clearance this month put in their wallet."""
    return client.app.state.settings.free_monthly_credits_minor


def _ledger_holds(engine) -> None:
    with snapshot_session(engine) as session:
        check = check_ledger(session)
    assert check.ok, check


def test_a_release_debits_the_creator_and_credits_the_holder_and_the_platform(
    client, engine, holder, requester, character, clip_pipeline
):
    generation_id = _released(client, requester, clip_pipeline)

    with Session(engine) as session:
        charge = session.exec(select(Charge).where(Charge.generation_id == generation_id)).one()
        licence = session.exec(select(Licence).where(Licence.generation_id == generation_id)).one()
        share_bps = session.get(PolicyVersion, licence.policy_version_id).revenue_share_bps
    # USD 1.50 a use + 0.10 a second, one second billed; 2 second-steps of compute at 480p.
    assert (licence.price_minor, charge.amount_minor, share_bps) == (160, 162, 8_000)
    entry = _entry(engine, generation_id)
    assert entry.generation_id == generation_id and entry.event == "usage"
    legs = {(leg.account, leg.debit_minor, leg.credit_minor) for leg in entry.legs}
    creator_id, holder_id = requester.id, holder.id
    assert legs == {
        (wallet(creator_id, "USD"), 162, 0),
        (payable(holder_id, "USD"), 0, 128),  # 80% of 160
        (platform(AccountKind.platform_revenue, "USD"), 0, 34),  # compute, and 20% of 160
    }
    with Session(engine) as session:
        assert balance_of(session, wallet(creator_id, "USD")) == _allowance(client) - 162
        assert balance_of(session, payable(holder_id, "USD")) == 128
    _ledger_holds(engine)


def test_a_release_that_fails_after_posting_leaves_no_entry_and_its_retry_posts_once(
    client, engine, requester, character, clip_pipeline, monkeypatch
):
    posted = []

    def post_then_fail(session, **release):
        posted.append(post_release(session, **release))
        raise RuntimeError("the release fails after posting")

    post_release = generator.release.post_release
    monkeypatch.setattr(generator.release, "post_release", post_then_fail)
    generation_id = uuid.UUID(queued(client, requester, "Nova Knight at sea"))
    runtime = generator_runtime(client, clip_pipeline)

    assert run_job(generation_id, runtime=runtime) == JobState.queued  # to be tried again
    assert posted and posted[0].key == release_key(generation_id)
    assert _entry(engine, generation_id) is None
    assert charges_and_licences(engine, generation_id) == (0, 0)

    monkeypatch.setattr(generator.release, "post_release", post_release)
    assert run_job(generation_id, runtime=runtime) == JobState.released
    entry = _entry(engine, generation_id)
    assert entry is not None and entry.id != posted[0].id
    with Session(engine) as session:
        assert balance_of(session, wallet(requester.id, "USD")) == _allowance(client) - 162
    _ledger_holds(engine)


def test_a_takedown_reverses_the_release_once(
    client, engine, holder, requester, character, clip_pipeline
):
    generation_id = _released(client, requester, clip_pipeline)

    for _ in range(2):
        with write_session(engine) as session:
            (reversal,) = reverse_takedowns(
                session, generation_ids=[generation_id], reason="consent withdrawn", now=utcnow()
            )
    assert reversal.replayed and reversal.reverses_id == _entry(engine, generation_id).id
    with Session(engine) as session:
        assert balance_of(session, wallet(requester.id, "USD")) == _allowance(client)
        for account in (payable(holder.id, "USD"), platform(AccountKind.platform_revenue, "USD")):
            assert balance_of(session, account) == 0
    _ledger_holds(engine)


def test_a_release_cancelled_by_a_withdrawn_consent_posts_nothing(
    client, engine, holder, requester, character, clip_pipeline
):
    def revoke() -> None:
        answer = client.post(
            f"/v1/grants/{character['grant_id']}/revoke", headers=holder.headers, json={}
        )
        assert answer.status_code == 200, answer.text

    generation_id = uuid.UUID(queued(client, requester, "Nova Knight at sea"))
    pipeline = RevokingAfterGenerating(clip_pipeline, revoke)
    assert run_job(generation_id, runtime=generator_runtime(client, pipeline)) == JobState.cancelled
    assert _entry(engine, generation_id) is None
    with Session(engine) as session:
        assert balance_of(session, wallet(requester.id, "USD")) == _allowance(client)
    _ledger_holds(engine)
