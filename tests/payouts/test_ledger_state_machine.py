"""Releases, duplicate postings, takedowns, adjustments and payouts (a stand-in for payout
runs) in any order, on SQLite and PostgreSQL (a hypothesis state machine).

After every step: every entry balances, every cached balance equals the sum of its legs,
each of this run's accounts holds what a simple model says, no holder's payable is below
zero, and in each currency the holders together hold no more than the creators spent.
"""

import uuid
from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ledgering import check_owned_balances, earned_and_spent, people, usage, write_transaction
from sqlalchemy import Engine
from sqlmodel import select

from clearhouse.db import snapshot_session, utcnow
from payouts.accounts import AccountRef, payable, platform, wallet
from payouts.adjustments import adjust_wallet
from payouts.errors import IdempotencyConflict, InsufficientBalance
from payouts.journal import EntryDraft, credit, debit, post_entry
from payouts.models import AccountKind, EntryEvent, LedgerAccount
from payouts.split import Usage, split_usage
from payouts.takedowns import reverse_takedowns
from payouts.usage import post_usages, release_key

CURRENCIES = ("USD", "EUR")
fees = st.integers(min_value=0, max_value=5_000)
shares = st.sampled_from((0, 1, 3333, 7000, 8000, 9999, 10_000))


class LedgerMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test, on each database

    def __init__(self) -> None:
        super().__init__()
        self.creators, self.holders = people(self.engine, creators=2, holders=3)
        self.model: dict[AccountRef, int] = defaultdict(int)
        self.usages: list[Usage] = []
        self.posted_ids: dict[str, uuid.UUID] = {}  # key -> the entry first posted
        self.reversed: dict[uuid.UUID, uuid.UUID] = {}  # usage entry -> its reversal
        self.adjustments: dict[str, tuple[uuid.UUID, int, str]] = {}
        # The operators' keys are this run's: id(self) was, but Python reuses it once a run
        # is gone, and a later run then met an earlier run's key.
        self.run = uuid.uuid4().hex

    def _move(self, account: AccountRef, amount: int) -> None:
        self.model[account] += amount

    @rule(
        data=st.data(),
        currency=st.sampled_from(CURRENCIES),
        compute=st.integers(min_value=1, max_value=500),
        licences=st.lists(st.tuples(st.integers(0, 2), fees, shares), max_size=4),
        batch=st.integers(min_value=1, max_value=3),
    )
    def release(self, data, currency, compute, licences, batch) -> None:
        made = [
            usage(
                self.engine,
                creator_id=self.creators[data.draw(st.integers(0, 1))],
                licences=[(self.holders[holder], fee, share) for holder, fee, share in licences],
                compute_minor=compute,
                currency=currency,
            )
            for _ in range(batch)
        ]
        with write_transaction(self.engine) as session:
            posted = post_usages(session, made, now=utcnow())
        assert [entry.replayed for entry in posted] == [False] * batch
        for one, entry in zip(made, posted, strict=True):
            self.usages.append(one)
            self.posted_ids[entry.key] = entry.id
            split = split_usage(one)
            self._move(wallet(one.creator_id, currency), -one.total_minor)
            for holder, amount in split.holders.items():
                self._move(payable(holder, currency), amount)
            self._move(platform(AccountKind.platform_revenue, currency), split.platform_minor)

    @precondition(lambda self: self.usages)
    @rule(data=st.data())
    def post_again(self, data) -> None:
        again = data.draw(st.sampled_from(self.usages))
        with write_transaction(self.engine) as session:
            (entry,) = post_usages(session, [again], now=utcnow())
        assert entry.replayed and entry.id == self.posted_ids[release_key(again.generation_id)]

    @precondition(lambda self: self.usages)
    @rule(data=st.data())
    def reverse(self, data) -> None:
        self._reverse(data.draw(st.sampled_from(self.usages)))

    @precondition(lambda self: self._earning())
    @rule(data=st.data(), percent=st.integers(1, 150))
    def pay_out(self, data, percent) -> None:
        account = data.draw(st.sampled_from(self._earning()))
        self._pay_out(account, max(1, self.model[account] * percent // 100))

    @precondition(lambda self: self._unreversed_earnings())
    @rule(data=st.data())
    def pay_out_then_take_down(self, data) -> None:
        """A holder paid all they hold, then a use that earned them something taken down."""
        taken_down, account = data.draw(st.sampled_from(self._unreversed_earnings()))
        self._pay_out(account, self.model[account])
        self._reverse(taken_down)

    def _earning(self) -> list[AccountRef]:
        return [
            account
            for account, held in self.model.items()
            if account.kind == AccountKind.holder_payable and held > 0
        ]

    def _unreversed_earnings(self) -> list[tuple[Usage, AccountRef]]:
        return [
            (one, payable(holder, one.currency))
            for one in self.usages
            if self.posted_ids[release_key(one.generation_id)] not in self.reversed
            for holder in split_usage(one).holders
            if self.model.get(payable(holder, one.currency), 0) > 0
        ]

    def _reverse(self, taken_down: Usage) -> None:
        """A takedown: the creator's wallet gets the whole charge back, each holder's payable
        gives back what it holds up to their share, the platform's revenue bears the rest; a
        second takedown of the generation changes nothing."""
        original = self.posted_ids[release_key(taken_down.generation_id)]
        with write_transaction(self.engine) as session:
            (entry,) = reverse_takedowns(
                session, generation_ids=[taken_down.generation_id], reason="down", now=utcnow()
            )
        assert entry.reverses_id == original
        assert entry.replayed == (original in self.reversed)
        if entry.replayed:
            assert entry.id == self.reversed[original]
            return
        self.reversed[original] = entry.id
        currency = taken_down.currency
        split = split_usage(taken_down)
        borne = 0
        for holder, amount in split.holders.items():
            account = payable(holder, currency)
            taken = min(self.model.get(account, 0), amount)
            self._move(account, -taken)
            borne += amount - taken
        self._move(wallet(taken_down.creator_id, currency), taken_down.total_minor)
        self._move(platform(AccountKind.platform_revenue, currency), -split.platform_minor - borne)
        assert (f"{borne} minor units" in entry.memo) == (borne > 0)

    def _pay_out(self, account: AccountRef, amount: int) -> None:
        """A stand-in for a payout run: ``amount`` of a holder's payable moved to Stripe
        clearing; more than it holds is refused."""
        held = self.model.get(account, 0)
        clearing = platform(AccountKind.stripe_clearing, account.currency)
        draft = EntryDraft(
            key=f"payout:{uuid.uuid4()}",
            event=EntryEvent.adjustment,
            memo="paid out",
            legs=(debit(account, amount), credit(clearing, amount)),
        )
        try:
            with write_transaction(self.engine) as session:
                post_entry(session, draft, now=utcnow())
        except InsufficientBalance:
            assert amount > held
            return
        assert amount <= held
        self._move(account, -amount)

    @rule(
        creator=st.integers(0, 1),
        amount=st.sampled_from((-2_000, -40, 25, 600, 1_500)),
        currency=st.sampled_from(CURRENCIES),
        operator_key=st.sampled_from("abcd"),
    )
    def adjust(self, creator, amount, currency, operator_key) -> None:
        creator_id = self.creators[creator]
        key = f"{self.run}-{operator_key}"
        asked = (creator_id, amount, currency)
        account = wallet(creator_id, currency)
        try:
            with write_transaction(self.engine) as session:
                entry = adjust_wallet(
                    session,
                    creator_id=creator_id,
                    amount_minor=amount,
                    currency=currency,
                    operator_key=key,
                    reason="a test",
                    now=utcnow(),
                )
        except InsufficientBalance:
            assert key not in self.adjustments
            assert self.model.get(account, 0) + amount < 0 and amount < 0
            return
        except IdempotencyConflict:
            assert self.adjustments[key] != asked
            return
        if key in self.adjustments:
            assert entry.replayed and self.adjustments[key] == asked
            return
        assert not entry.replayed
        self.adjustments[key] = asked
        self._move(account, amount)
        self._move(platform(AccountKind.adjustments, currency), amount)
        assert amount > 0 or self.model[account] >= 0  # a debit never past zero

    @invariant()
    def the_ledger_holds(self) -> None:
        with snapshot_session(self.engine) as session:
            check_owned_balances(session, self.model)
            payables = session.exec(
                select(LedgerAccount.balance_minor).where(
                    LedgerAccount.kind == AccountKind.holder_payable
                )
            ).all()
            assert min(payables, default=0) >= 0
            for currency, (earned, spent) in earned_and_spent(session).items():
                assert earned <= spent, currency


def test_the_ledger_holds_whatever_the_order(ledger_engine):
    machine = type("LedgerMachineHere", (LedgerMachine,), {"engine": ledger_engine})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
