"""Payout runs in tests: holders who earned set amounts, onboarded on the Connect fake, and
what the ledger and the fake hold afterwards."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from ledgering import people, usage, write_transaction
from sqlalchemy import Engine
from sqlmodel import Session, select
from stripe_connect_fake import ConnectFake, ConnectFakeServer

from clearhouse.accounts.models import Account
from clearhouse.settings import Settings
from payouts.accounts import payable, platform
from payouts.balances import balance_of
from payouts.models import AccountKind
from payouts.onboarding import start_onboarding
from payouts.payout_models import Payout
from payouts.usage import post_usages

MINIMUM = 1_000
EARNED_AT = datetime(2026, 8, 20, 12, tzinfo=UTC)
"""When the helpers' uses are posted unless told: in 2026-08, by the end of every month these
tests run payouts for (a run pays what was earned by its month's end)."""


@contextmanager
def connect_fake() -> Iterator[ConnectFake]:
    fake = ConnectFake()
    with ConnectFakeServer(fake):
        yield fake


@pytest.fixture
def fake() -> Iterator[ConnectFake]:
    """The local Connect fake, serving for one test (registered in tests/conftest.py)."""
    with connect_fake() as running:
        yield running


def stripe_on(settings: Settings, fake: ConnectFake, **more: object) -> Settings:
    return settings.model_copy(
        update={
            "stripe_secret_key": "sk_test_payout_runs",
            "stripe_api_base": fake.base_url,
            "payout_minimum_minor": MINIMUM,
            **more,
        }
    )


def holders_who_earned(
    engine: Engine, amounts: list[int], *, currency: str = "USD", at: datetime = EARNED_AT
) -> list[uuid.UUID]:
    """One holder per amount, whose payable holds exactly it (a licence at a 100% share),
    posted ``at``."""
    (creator,), holders = people(engine, creators=1, holders=len(amounts))
    usages = [
        usage(engine, creator_id=creator, licences=[(holder, amount, 10_000)], currency=currency)
        for holder, amount in zip(holders, amounts, strict=True)
    ]
    with write_transaction(engine) as session:
        post_usages(session, usages, now=at)
    return holders


def earn(
    engine: Engine,
    holder_id: uuid.UUID,
    amount: int,
    *,
    currency: str = "USD",
    at: datetime = EARNED_AT,
) -> uuid.UUID:
    """A use that puts exactly ``amount`` on an existing holder's payable (a 100% share),
    posted ``at``; its generation."""
    (creator,), _ = people(engine, creators=1, holders=0)
    made = usage(
        engine, creator_id=creator, licences=[(holder_id, amount, 10_000)], currency=currency
    )
    with write_transaction(engine) as session:
        post_usages(session, [made], now=at)
    return made.generation_id


def onboard(engine: Engine, settings: Settings, holders: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each holder's connected account at the fake, made as the onboarding route makes it."""
    with Session(engine) as session:
        accounts = [session.get(Account, holder) for holder in holders]
    return {
        account.id: start_onboarding(engine, settings=settings, holder=account).stripe_account_id
        for account in accounts
    }


def onboarded_holder(engine: Engine, settings: Settings, amount: int) -> tuple[uuid.UUID, str]:
    """A holder whose payable holds ``amount``, onboarded: their id and connected account."""
    (holder,) = holders_who_earned(engine, [amount])
    return holder, onboard(engine, settings, [holder])[holder]


def payable_of(engine: Engine, holder: uuid.UUID, currency: str = "USD") -> int:
    with Session(engine) as session:
        return balance_of(session, payable(holder, currency))


def clearing(engine: Engine, currency: str = "USD") -> int:
    with Session(engine) as session:
        return balance_of(session, platform(AccountKind.stripe_clearing, currency))


def payouts(engine: Engine) -> list[Payout]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(Payout).order_by(Payout.created_at)).all())
