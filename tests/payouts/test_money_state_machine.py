"""Money end to end, in any order (a hypothesis state machine, SQLite and PostgreSQL): credits
bought and refunded through signed Stripe webhooks (some delivered again), uses, payout runs
against the Connect fake with failures (a 500 or a dropped connection after the transfer was
made, a connected account that refuses transfers), and transfers reversed at Stripe.

Time passes (a clock of the machine's own: every posting and run is at it), and a run is for
one of the last three months that ended. Each run pays each onboarded holder exactly what the
model says they are owed for its month: what they earned by the month's end less what payouts
took (and kept) so far, when that is at least the minimum and the month has no payout of theirs
yet; nothing otherwise.

After every step: every entry balances and every cached balance is its legs; no payable is
below zero; each wallet and payable of the run holds what the events delivered say; no payout
has more than one transfer, a paid one has exactly its own; the holders have been sent no
more than they earned, and no holder's payouts kept more than they had earned by the end of
the latest month they were paid for.
"""

import copy
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ledgering import people, usage, write_transaction
from paying import MINIMUM, connect_fake, onboard, stripe_on
from sqlalchemy import Engine
from sqlmodel import Session, select
from stripe_connect_fake import ConnectFake
from stripe_local import WEBHOOK_SECRET, signed_delivery, stripe_event

from clearhouse.db import snapshot_session
from clearhouse.settings import Settings
from payouts.accounts import payable, wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import AccountKind, CreditPurchase, LedgerAccount, PurchaseState
from payouts.payout_models import Payout, PayoutState
from payouts.runs import run_payouts, transfer_group
from payouts.split import split_usage
from payouts.statements import Period
from payouts.stripe_events import receive_event
from payouts.usage import post_usages

STARTS_AT = datetime(2026, 6, 3, 9, tzinfo=UTC)  # the machine's clock, at its first step
FAILURES = (None, None, "500", "drop")


class MoneyMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test, on each database
    fake: ConnectFake
    settings: Settings

    def __init__(self) -> None:
        super().__init__()
        self.creators, self.holders = people(self.engine, creators=2, holders=3)
        # The third holder never onboards: a run leaves their payable where it is.
        self.destinations = onboard(self.engine, self.settings, self.holders[:2])
        self.now = STARTS_AT
        self.wallets: dict[uuid.UUID, int] = defaultdict(int)
        self.earned: dict[uuid.UUID, int] = defaultdict(int)
        self.earnings: list[tuple[datetime, uuid.UUID, int]] = []  # (when, holder, amount)
        self.returned: dict[uuid.UUID, int] = defaultdict(int)  # transfer reversals delivered
        self.purchases: list[dict] = []  # the PaymentIntents of this run's purchases
        self.refunded: dict[str, int] = defaultdict(int)
        self.paid_intents: set[str] = set()
        self.delivered: list[dict] = []

    def _deliver(self, event: dict) -> bool:
        body, headers = signed_delivery(event)
        applied = receive_event(
            self.engine,
            payload=body,
            signature=headers["Stripe-Signature"],
            settings=self.settings,
            now=self.now,
        )
        self.delivered.append(event)
        return applied

    @rule(creator=st.integers(0, 1), amount=st.sampled_from((100, 1_500, 20_000)))
    def buy(self, creator, amount) -> None:
        """A purchase as ``POST /v1/credits/purchases`` leaves it: pending, its intent made."""
        intent = {
            "id": f"pi_test_{uuid.uuid4().hex}",
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": "usd",
            "status": "succeeded",
            "metadata": {},
        }
        with write_transaction(self.engine) as session:
            purchase = CreditPurchase(
                account_id=self.creators[creator],
                amount_minor=amount,
                currency="USD",
                state=PurchaseState.pending,
                payment_intent_id=intent["id"],
                created_at=self.now,
                updated_at=self.now,
            )
            session.add(purchase)
        intent["metadata"] = {"purchase_id": str(purchase.id)}
        self.purchases.append({"intent": intent, "creator": self.creators[creator]})

    @precondition(lambda self: self.purchases)
    @rule(data=st.data())
    def payment_succeeds(self, data) -> None:
        bought = data.draw(st.sampled_from(self.purchases))
        applied = self._deliver(stripe_event("payment_intent.succeeded", bought["intent"]))
        assert applied
        if bought["intent"]["id"] not in self.paid_intents:
            self.paid_intents.add(bought["intent"]["id"])
            self.wallets[bought["creator"]] += bought["intent"]["amount"]

    @precondition(lambda self: self.purchases)
    @rule(data=st.data(), percent=st.sampled_from((10, 50, 100)))
    def refund(self, data, percent) -> None:
        """A refund, perhaps before its payment's success arrives, perhaps of spent credits."""
        bought = data.draw(st.sampled_from(self.purchases))
        intent = bought["intent"]
        amount = min(
            intent["amount"] * percent // 100, intent["amount"] - self.refunded[intent["id"]]
        )
        if amount <= 0:
            return
        refund = {
            "id": f"re_test_{uuid.uuid4().hex}",
            "object": "refund",
            "amount": amount,
            "currency": "usd",
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        assert self._deliver(stripe_event("refund.created", refund))
        self.refunded[intent["id"]] += amount
        self.wallets[bought["creator"]] -= amount

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def deliver_again(self, data) -> None:
        assert not self._deliver(data.draw(st.sampled_from(self.delivered)))

    @rule(
        creator=st.integers(0, 1),
        licences=st.lists(
            st.tuples(
                st.integers(0, 2),
                st.sampled_from((0, 700, 2_500)),
                st.sampled_from((5000, 8000, 10_000)),
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def use(self, creator, licences) -> None:
        made = usage(
            self.engine,
            creator_id=self.creators[creator],
            licences=[(self.holders[holder], fee, share) for holder, fee, share in licences],
        )
        with write_transaction(self.engine) as session:
            post_usages(session, [made], now=self.now)
        self.wallets[made.creator_id] -= made.total_minor
        for holder, amount in split_usage(made).holders.items():
            self.earned[holder] += amount
            self.earnings.append((self.now, holder, amount))

    @rule(days=st.sampled_from((1, 12, 31)))
    def time_passes(self, days) -> None:
        self.now += timedelta(days=days)

    def _earned_by(self, holder: uuid.UUID, moment: datetime) -> int:
        return sum(amount for at, who, amount in self.earnings if who == holder and at < moment)

    @rule(
        months_back=st.integers(1, 3),
        failure=st.sampled_from(FAILURES),
        refusing=st.sets(st.integers(0, 1), max_size=1),
        forget_keys=st.booleans(),
    )
    def run(self, months_back, failure, refusing, forget_keys) -> None:
        """A payout run for a month that has ended; the first transfer it makes may fail after
        Stripe made it, and a holder's connected account may refuse transfers for this run."""
        month = Period.containing(self.now)
        for _ in range(months_back):
            month = month.previous()
        period = str(month)
        already = {p.holder_id for p in self._my_payouts() if p.period == period}
        kept = self._kept_by_payouts()
        owed = {
            holder: self._earned_by(holder, month.ends_at) - kept[holder]
            for holder in self.destinations
            if holder not in already
        }
        declined = {self.destinations[self.holders[index]] for index in refusing}
        self.fake.declined_accounts |= declined
        if failure is not None:
            self.fake.after_create_failures.append(failure)
        if forget_keys:
            self.fake.forget_idempotency_keys()  # a day passed since the last run
        try:
            run_payouts(self.engine, settings=self.settings, period=period, now=lambda: self.now)
        finally:
            self.fake.declined_accounts -= declined
            self.fake.after_create_failures.clear()
        made = {p.holder_id: p.amount_minor for p in self._my_payouts() if p.period == period}
        for holder, amount in owed.items():
            assert made.get(holder) == (amount if amount >= MINIMUM else None), (holder, period)

    @precondition(lambda self: self._reversible())
    @rule(data=st.data(), whole=st.booleans())
    def reverse_transfer(self, data, whole) -> None:
        """The platform reverses part or all of a paid payout's transfer at Stripe."""
        transfer = data.draw(st.sampled_from(self._reversible()))
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = left if whole else max(1, left // 3)
        reversed_transfer = copy.deepcopy(self.fake.reverse(transfer["id"], amount))
        assert self._deliver(stripe_event("transfer.reversed", reversed_transfer))
        holder = uuid.UUID(transfer["metadata"]["holder_id"])
        self.returned[holder] += amount

    def _my_payouts(self) -> list[Payout]:
        with Session(self.engine) as session:
            return list(
                session.exec(select(Payout).where(Payout.holder_id.in_(self.holders))).all()
            )

    def _transfers_of(self, payout: Payout) -> list[dict]:
        return [
            transfer
            for transfer in self.fake.transfers.values()
            if transfer["transfer_group"] == transfer_group(payout.id)
        ]

    def _kept_by_payouts(self) -> dict[uuid.UUID, int]:
        """Per holder, what their payouts took from the payable and kept: less what was
        refused (the entry reversed) or reversed at Stripe (paid back in)."""
        kept: dict[uuid.UUID, int] = defaultdict(int)
        for payout in self._my_payouts():
            if payout.state == PayoutState.returned and not self._transfers_of(payout):
                continue  # refused: its entry reversed, the money back in the payable
            kept[payout.holder_id] += payout.amount_minor
        for holder, amount in self.returned.items():
            kept[holder] -= amount
        return kept

    def _reversible(self) -> list[dict]:
        return [
            transfer
            for payout in self._my_payouts()
            if payout.state == PayoutState.paid
            for transfer in self._transfers_of(payout)
            if transfer["amount_reversed"] < transfer["amount"]
        ]

    @invariant()
    def the_money_adds_up(self) -> None:
        payouts = self._my_payouts()
        taken = defaultdict(int)  # out of each payable by payouts whose money left it
        sent = 0
        for payout in payouts:
            transfers = self._transfers_of(payout)
            assert len(transfers) <= 1, payout
            if payout.state == PayoutState.paid:
                (transfer,) = transfers
                assert transfer["amount"] == payout.amount_minor
                assert transfer["destination"] == payout.destination
            if payout.state == PayoutState.returned and not transfers:
                continue  # refused: its entry reversed, the money back in the payable
            taken[payout.holder_id] += payout.amount_minor
            sent += sum(transfer["amount"] - transfer["amount_reversed"] for transfer in transfers)
        assert sent <= sum(self.earned.values())
        kept = self._kept_by_payouts()
        for holder in self.holders:
            months = [Period.parse(p.period) for p in payouts if p.holder_id == holder]
            if months:
                latest = max(months, key=lambda month: month.starts_at)
                assert kept[holder] <= self._earned_by(holder, latest.ends_at), holder
        with snapshot_session(self.engine) as session:
            check = check_ledger(session)
            assert check.ok, check
            for creator in self.creators:
                assert balance_of(session, wallet(creator, "USD")) == self.wallets[creator]
            for holder in self.holders:
                expected = self.earned[holder] - taken[holder] + self.returned[holder]
                assert balance_of(session, payable(holder, "USD")) == expected, holder
            lowest = session.exec(
                select(LedgerAccount.balance_minor)
                .where(LedgerAccount.kind == AccountKind.holder_payable)
                .order_by(LedgerAccount.balance_minor)
            ).first()
            assert lowest is None or lowest >= 0


def test_money_holds_whatever_the_order(ledger_engine: Engine, settings: Settings) -> None:
    with connect_fake() as fake:
        machine = type(
            "MoneyMachineHere",
            (MoneyMachine,),
            {
                "engine": ledger_engine,
                "fake": fake,
                "settings": stripe_on(settings, fake, stripe_webhook_secret=WEBHOOK_SECRET),
            },
        )
        run_state_machine_as_test(
            machine,
            settings=hypothesis_settings(
                max_examples=20,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
