"""Statements in tests: a holder's assets licensed through the API, released generations of
them inserted straight into the database (bench/ledger_rows.py) and their usages posted by the
release's own function, payouts and other entries posted to the ledger as their helpers would."""

import uuid
from datetime import datetime

from claiming import verified
from factories import User, granted_asset
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from bench.ledger_rows import LicenceTerms, insert_licensed_generations
from clearhouse.db import snapshot_session, write_session
from payouts.accounts import payable, platform
from payouts.balances import check_ledger
from payouts.journal import EntryDraft, PostedEntry, credit, debit, post_entry
from payouts.models import AccountKind
from payouts.usage import post_release
from policies.models import PolicyVersion
from rights.models import ConsentGrant

PRICE = {"audience": "anyone", "allowed_uses": ["personal", "commercial"]}


def licensed_asset(
    client: TestClient,
    engine: Engine,
    holder: User,
    *,
    per_use_minor: int,
    currency: str = "USD",
    claim_verified: bool = True,
) -> LicenceTerms:
    """One of the holder's characters with a priced policy and an active grant, made through
    the API, its claim verified (so it earns) unless told not; its terms as a licence would
    record them."""
    policy = {**PRICE, "price": {"currency": currency, "per_use_minor": per_use_minor}}
    # A name of its own: another holder's character of the same name would be held for
    # moderators (rights/overlaps/), not granted.
    asset, granted = granted_asset(
        client, holder, policy=policy, name=f"Stated {uuid.uuid4().hex[:8]}"
    )
    if claim_verified:
        with Session(engine) as session:
            verified(client, session, holder, asset["id"])
    with Session(engine) as session:
        grant = session.get(ConsentGrant, uuid.UUID(granted["grant"]["id"]))
        share = session.get(PolicyVersion, grant.policy_version_id).revenue_share_bps
    return LicenceTerms(
        uuid.UUID(asset["id"]),
        grant.id,
        grant.policy_version_id,
        holder.id,
        per_use_minor,
        share,
    )


def release(
    engine: Engine,
    creator_id: uuid.UUID,
    *licences: LicenceTerms,
    at: datetime,
    count: int = 1,
    currency: str = "USD",
) -> list[uuid.UUID]:
    """``count`` released generations licensing ``licences``, each posted as its release posts
    it, at ``at``; their ids."""
    with write_session(engine) as session:
        usages = insert_licensed_generations(
            session.connection(),
            creator_ids=[creator_id],
            licences=[licences] * count,
            currency=currency,
        )
        for usage in usages:
            post_release(session, generation_id=usage.generation_id, now=at)
    return [usage.generation_id for usage in usages]


def pay_out(
    engine: Engine, holder_id: uuid.UUID, amount_minor: int, *, at: datetime, currency: str = "USD"
) -> PostedEntry:
    """What a payout run posts: the holder's payable to Stripe clearing, event ``payout``."""
    payout_id = uuid.uuid4()
    return post(
        engine,
        EntryDraft(
            key=f"payout:{payout_id}",
            event="payout",
            memo=f"Payout {payout_id}",
            legs=(
                debit(payable(holder_id, currency), amount_minor),
                credit(platform(AccountKind.stripe_clearing, currency), amount_minor),
            ),
        ),
        at=at,
    )


def post(engine: Engine, draft: EntryDraft, *, at: datetime) -> PostedEntry:
    with write_session(engine) as session:
        return post_entry(session, draft, now=at)


def ledger_holds(engine: Engine) -> None:
    """Every entry balances and has its legs; every cached balance is its legs."""
    with snapshot_session(engine) as session:
        check = check_ledger(session)
    assert check.ok, check
