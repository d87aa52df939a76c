"""The ledger's fixtures: an engine on each test database, without the app; one release
posted to it; Stripe on at a local Stripe-compatible server (tests/stripe_local.py)."""

from collections.abc import Iterator

import pytest
from ledgering import people, usage, write_transaction
from sqlalchemy import Engine, select
from sqlmodel import Session
from stripe_local import LocalStripe, with_stripe
from stripe_local import local_stripe as local_stripe  # the fixture, for every test here

from clearhouse.db import build_engine, utcnow
from clearhouse.settings import Settings
from payouts.models import AccountKind, LedgerAccount
from payouts.usage import post_usages


@pytest.fixture
def ledger_engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def stripe_settings(settings: Settings, local_stripe: LocalStripe) -> Settings:
    return with_stripe(settings, local_stripe)


@pytest.fixture
def posted(ledger_engine: Engine) -> dict:
    """One released generation posted: a creator, a holder with 80% of a 1,000 fee."""
    (creator,), (holder,) = people(ledger_engine, creators=1, holders=1)
    made = usage(ledger_engine, creator_id=creator, licences=[(holder, 1_000, 8_000)])
    with write_transaction(ledger_engine) as session:
        (entry,) = post_usages(session, [made], now=utcnow())
    with Session(ledger_engine) as session:
        accounts = {
            kind: session.execute(
                select(LedgerAccount.id).where(
                    LedgerAccount.kind == kind,
                    (
                        LedgerAccount.owner_id.is_(None)
                        if owner is None
                        else LedgerAccount.owner_id == owner
                    ),
                    LedgerAccount.currency == "USD",
                )
            ).scalar_one()
            for kind, owner in (
                (AccountKind.creator_wallet, creator),
                (AccountKind.holder_payable, holder),
                (AccountKind.platform_revenue, None),
            )
        }
    return {
        "creator": creator,
        "holder": holder,
        "usage": made,
        "entry": entry,
        "accounts": accounts,
    }
