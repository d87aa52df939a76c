"""Payout runs: what each holder is owed for a month, at or over the minimum, sent to their
Stripe connected account as a Connect transfer.

A run for a period (``clearhouse payouts run --period 2026-10``, or the admin's
``POST /v1/payouts/runs``) is for a UTC month that has ended: the month under way, or a later
one, is refused (:class:`PayoutPeriodNotEnded`) before anything is done, so no month's payout
is made while the month can still earn. A run first retries the takedown reversals that
could not be posted when their clips were taken down (payouts/takedowns.py), so that what a
payable holds is what it owes, then does two things, each payout in transactions of its own:

1. **Make the payouts.** For each (holder, currency) owed at least
   ``CLEARHOUSE_PAYOUT_MINIMUM_MINOR`` for the period (*what a payout for a month pays*, below)
   and who has a connected account, one payout of what is owed, unique per (holder, period,
   currency), and its ledger entry (key ``payout:<payout id>``: debit the holder's payable,
   credit ``stripe_clearing``, the money we hold at Stripe, which the transfer takes out of our
   balance there) commit together. A holder with no connected account gets no payout and no
   entry: their balance stays in the payable and the first run after they onboard pays it.
   So does a holder whose connected account Stripe reported (``account.updated``,
   payouts/account_events.py) as not able to receive payouts: the run reports them as
   skipped. (An account Stripe has not reported on yet is tried; Stripe refusing the transfer
   returns the payout.)
2. **Send what is open.** Every pending or failed payout, of any period, is sent: its transfer
   is first looked up at Stripe by its ``transfer_group`` (``payout_<payout id>``); only if none
   exists is one created, always with the idempotency key ``payout-<payout id>`` and the same
   parameters. Stripe's confirmation is then recorded (paid). A transient error (the network,
   Stripe's 5xx, our balance at Stripe too low) marks it failed, for the next run; Stripe
   refusing the transfer (a 4xx: the account cannot receive it) returns it: its entry is
   reversed, so the amount is back in the payable.

**Why no transfer is sent twice**, whatever fails when:

- A crash before step 1 commits leaves nothing; after it, a pending payout that the next run
  sends.
- A crash (or a lost response) between Stripe creating the transfer and our recording it
  leaves a pending or failed payout whose transfer exists. The next attempt finds it by its
  transfer group and records it without sending anything. Had the lookup missed it (Stripe's
  lists and our read raced), the create reuses the payout's idempotency key with the same
  parameters, and Stripe answers with the transfer it made, not a second one; the lookup is
  what still holds once Stripe has forgotten the key (after 24 hours).
- The client's own retries of a request that failed on the network reuse that key too.
- Two runs at once make a payout once (the unique (holder, period, currency)); both may send
  it, with the one key, and the second is answered with the first's transfer.
- A transfer is recorded only from Stripe's answer (or a ``transfer.created``/``.updated``
  webhook, payouts/payout_events.py), and a payout leaves pending/failed only once
  (a conditional UPDATE): paid is never overwritten by a late failure.

What a crash can still do: leave a payout pending or failed, its money out of the payable,
until the next run (or the webhook) finds its transfer. What it cannot do: pay twice, or lose a
payout's money (an entry is reversed only when Stripe refused the transfer, so none exists).

Stripe off (no secret key): a run makes no payout, posts nothing and sends nothing; it reports
what each holder is due.

**What a payout for a month pays**: what the holder had earned by the month's end and no payout
has taken, so that the month's statement (payouts/statements.py, by the entries' ``posted_at``)
and its payout agree: the statement's closing balance, less payouts made since the month ended
(plus what came back of them), less what was reversed since of what the payable held at the
month's end (a takedown of one of the month's uses). Never more than the payable holds now (an
adjustment since may have taken from it). What was posted since the month ended for later
months (their uses) stays in the payable for the next month's run. A run made late, or for an
earlier month after a later one, pays nothing twice: every payout made since counts.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import stripe
from sqlalchemy import Engine, and_, case, exists, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from clearhouse.db import read_session, utcnow, write_session
from clearhouse.errors import InvalidRequest, NotFound
from clearhouse.settings import Settings
from payouts.accounts import payable, platform
from payouts.errors import InsufficientBalance, PayoutPeriodNotEnded
from payouts.journal import (
    MAX_MEMO_LENGTH,
    EntryDraft,
    credit,
    debit,
    post_entry,
    reverse_entry,
)
from payouts.models import AccountKind, EntryEvent, JournalEntry, JournalLeg, LedgerAccount
from payouts.payout_models import OPEN_STATES, Payout, PayoutAccount, PayoutState
from payouts.statements import Period
from payouts.storage import ledger_store
from payouts.stripe_gateway import stripe_client
from payouts.takedowns import RetriedReversals, retry_takedown_reversals

# Stripe refusals that are about our side and pass: try again on the next run.
TRANSIENT_REFUSALS = frozenset({"balance_insufficient", "rate_limit"})


def holder_payouts(session: Session, *, holder_id: uuid.UUID) -> list[Payout]:
    """The holder's own payouts, newest first (the API's list and the portal's page)."""
    return list(
        session.exec(
            select(Payout).where(Payout.holder_id == holder_id).order_by(Payout.created_at.desc())
        ).all()
    )


def payout_key(payout_id: uuid.UUID) -> str:
    """The ledger entry's idempotency key."""
    return f"{EntryEvent.payout.value}:{payout_id}"


def transfer_group(payout_id: uuid.UUID) -> str:
    """Names the payout at Stripe; what a run looks its transfer up by."""
    return f"payout_{payout_id}"


def transfer_idempotency_key(payout_id: uuid.UUID) -> str:
    """The same on every attempt to send the payout's transfer."""
    return f"payout-{payout_id}"


def ended_period(period: str, *, now: datetime) -> Period:
    """The UTC month ``period`` names, if it has ended by ``now`` (its last instant is past)."""
    try:
        month = Period.parse(period)
    except ValueError:
        raise InvalidRequest(
            f"A period is a month written YYYY-MM (e.g. 2026-11), not {period!r}."
        ) from None
    latest = Period.containing(now).previous()
    if month > latest:
        raise PayoutPeriodNotEnded(
            f"{month} has not ended: a run pays what a month earned, so {month} can be run "
            f"from {month.next()}-01 00:00 UTC. The latest month that can be run now "
            f"is {latest}."
        )
    return month


@dataclass(frozen=True, slots=True)
class Due:
    """A holder's payable at or over the minimum, with no payout yet for the period."""

    holder_id: uuid.UUID
    currency: str
    amount_minor: int
    destination: str | None
    """Their connected account; None: not onboarded, so no payout is made."""
    payouts_enabled: bool | None = None
    """What Stripe last reported of the account; False: it cannot receive payouts, so none
    is made; None: not reported yet."""

    @property
    def payable(self) -> bool:
        """Whether a run makes this holder's payout."""
        return self.destination is not None and self.payouts_enabled is not False

    @property
    def skipped_because(self) -> str | None:
        if self.destination is None:
            return "not onboarded"
        if self.payouts_enabled is False:
            return "Stripe reports the connected account cannot receive payouts"
        return None


@dataclass(slots=True)
class PayoutRunReport:
    period: str
    stripe: bool
    """False: Stripe is off, nothing was made, posted or sent; ``due`` is what would be."""
    due: list[Due] = field(default_factory=list)
    reversals: RetriedReversals = field(default_factory=RetriedReversals)
    """Takedown reversals retried before the payouts were made."""
    made: list[uuid.UUID] = field(default_factory=list)
    paid: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    returned: list[uuid.UUID] = field(default_factory=list)

    @property
    def skipped(self) -> list[Due]:
        """Holders due a payout who got none: not onboarded, or their account cannot
        receive payouts."""
        return [due for due in self.due if not due.payable]


def run_payouts(
    engine: Engine,
    *,
    settings: Settings,
    period: str,
    now: Callable[[], datetime] = utcnow,
) -> PayoutRunReport:
    """Make the period's payouts and send every open one (see the module); a period that
    has not ended is refused."""
    ended_period(period, now=now())
    client = stripe_client(settings)
    report = PayoutRunReport(period=period, stripe=client is not None)
    report.reversals = retry_takedown_reversals(engine, now=now())
    report.due = due_payouts(engine, period=period, minimum_minor=settings.payout_minimum_minor)
    if client is None:
        return report
    for due in report.due:
        if due.payable:
            made = make_payout(
                engine,
                due=due,
                period=period,
                minimum_minor=settings.payout_minimum_minor,
                now=now(),
            )
            if made is not None:
                report.made.append(made)
    for payout_id in open_payouts(engine):
        state = send_payout(engine, client, payout_id=payout_id, now=now)
        {
            PayoutState.paid: report.paid,
            PayoutState.failed: report.failed,
            PayoutState.returned: report.returned,
        }.get(state, []).append(payout_id)
    return report


# Posted to a payable after a month ended and still the month's business: payouts (of any
# month) and what came back of them.
_PAYOUT_EVENTS = (EntryEvent.payout.value, EntryEvent.payout_return.value)


def owed_for_period(period: Period, *, account_id: uuid.UUID | None = None):
    """What each holder's payable (or the one ``account_id``) owes for ``period`` (see the
    module): what it holds now, less what the entries posted for later months since the
    month ended added to it. Those are all but payouts, what came back of payouts, and
    reversals of payouts or of entries posted by the month's end. When later months took more
    than they added (an adjustment may), what it holds now: a payout never takes a payable
    below zero. A subquery: (account_id, owner_id, currency, owed_minor)."""
    entry, reversed_entry = aliased(JournalEntry), aliased(JournalEntry)
    ended = period.ends_at
    later = (
        select(
            JournalLeg.account_id,
            func.sum(JournalLeg.credit_minor - JournalLeg.debit_minor).label("movement"),
        )
        .join(entry, entry.id == JournalLeg.entry_id)
        .outerjoin(reversed_entry, reversed_entry.id == entry.reverses_id)
        .where(
            entry.posted_at >= ended,
            entry.event.not_in(_PAYOUT_EVENTS),
            or_(
                entry.reverses_id.is_(None),
                and_(
                    reversed_entry.posted_at >= ended,
                    reversed_entry.event != EntryEvent.payout.value,
                ),
            ),
        )
        .group_by(JournalLeg.account_id)
    )
    if account_id is not None:
        later = later.where(JournalLeg.account_id == account_id)
    later = later.subquery()
    owed = select(
        LedgerAccount.id.label("account_id"),
        LedgerAccount.owner_id,
        LedgerAccount.currency,
        (
            LedgerAccount.balance_minor - case((later.c.movement > 0, later.c.movement), else_=0)
        ).label("owed_minor"),
    ).outerjoin(later, later.c.account_id == LedgerAccount.id)
    if account_id is not None:
        owed = owed.where(LedgerAccount.id == account_id)
    return owed.where(LedgerAccount.kind == AccountKind.holder_payable).subquery()


def due_payouts(engine: Engine, *, period: str, minimum_minor: int) -> list[Due]:
    """The holders owed at least ``minimum_minor`` for ``period`` who have no payout for it."""
    owed = owed_for_period(Period.parse(period))
    already = exists().where(
        Payout.holder_id == owed.c.owner_id,
        Payout.currency == owed.c.currency,
        Payout.period == period,
    )
    with read_session(engine) as session:
        rows = session.exec(
            select(
                owed.c.owner_id,
                owed.c.currency,
                owed.c.owed_minor,
                PayoutAccount.stripe_account_id,
                PayoutAccount.payouts_enabled,
            )
            .outerjoin(PayoutAccount, PayoutAccount.holder_id == owed.c.owner_id)
            .where(owed.c.owed_minor >= minimum_minor, ~already)
            .order_by(owed.c.owner_id, owed.c.currency)
        ).all()
    # PostgreSQL sums BIGINTs as NUMERIC: a Decimal, made an int again.
    return [Due(holder, currency, int(amount), *rest) for holder, currency, amount, *rest in rows]


def make_payout(
    engine: Engine, *, due: Due, period: str, minimum_minor: int, now: datetime
) -> uuid.UUID | None:
    """Make the payout of what the holder is owed for ``period`` and post its entry, in one
    transaction; None when another run made it first or what is owed fell under the minimum
    meanwhile."""
    assert due.destination is not None
    try:
        with write_session(engine) as session:
            # Locked first (as the posting locks it), so that no reversal posted between the
            # read and the posting is paid out.
            account = payable(due.holder_id, due.currency)
            locked = ledger_store(session.connection()).lock({account}, now=now)[account]
            owed = owed_for_period(Period.parse(period), account_id=locked.id)
            amount = int(session.exec(select(owed.c.owed_minor)).one())
            if amount < minimum_minor:
                return None
            payout = Payout(
                holder_id=due.holder_id,
                period=period,
                currency=due.currency,
                amount_minor=amount,
                state=PayoutState.pending,
                destination=due.destination,
                created_at=now,
                updated_at=now,
            )
            session.add(payout)
            session.flush()
            post_entry(session, payout_entry(payout), now=now)
            return payout.id
    except (IntegrityError, InsufficientBalance):
        # Another run made this payout, or a reversal emptied the payable since it was read.
        return None


def payout_entry(payout: Payout) -> EntryDraft:
    return EntryDraft(
        key=payout_key(payout.id),
        event=EntryEvent.payout,
        memo=f"Payout {payout.id} for {payout.period} to {payout.destination}",
        legs=(
            debit(payable(payout.holder_id, payout.currency), payout.amount_minor),
            credit(platform(AccountKind.stripe_clearing, payout.currency), payout.amount_minor),
        ),
    )


def open_payouts(engine: Engine) -> list[uuid.UUID]:
    with read_session(engine) as session:
        return list(
            session.exec(
                select(Payout.id).where(Payout.state.in_(OPEN_STATES)).order_by(Payout.created_at)
            ).all()
        )


def send_payout(
    engine: Engine,
    client: stripe.StripeClient,
    *,
    payout_id: uuid.UUID,
    now: Callable[[], datetime] = utcnow,
) -> PayoutState:
    """Find or send the payout's transfer and record what Stripe said; its state after."""
    with read_session(engine) as session:
        payout = session.get(Payout, payout_id)
    if payout is None:
        raise NotFound(f"No payout {payout_id}.")
    if payout.state not in OPEN_STATES:
        return payout.state
    try:
        transfer = find_transfer(client, payout) or client.v1.transfers.create(
            {
                "amount": payout.amount_minor,
                "currency": payout.currency.lower(),
                "destination": payout.destination,
                "transfer_group": transfer_group(payout.id),
                "description": f"Clearhouse payout for {payout.period}",
                "metadata": {
                    "payout_id": str(payout.id),
                    "holder_id": str(payout.holder_id),
                    "period": payout.period,
                },
            },
            {"idempotency_key": transfer_idempotency_key(payout.id)},
        )
    except stripe.InvalidRequestError as refused:
        if refused.code in TRANSIENT_REFUSALS:
            return _record(
                engine, mark_failed, payout_id, f"{refused.code}: {refused.user_message}", now()
            )
        reason = f"Stripe refused the transfer ({refused.code}): {refused.user_message}"
        return _record(engine, return_payout, payout_id, reason, now())
    except stripe.StripeError as error:
        return _record(engine, mark_failed, payout_id, f"{type(error).__name__}: {error}", now())
    return _record(engine, mark_paid, payout_id, transfer.id, now())


def find_transfer(client: stripe.StripeClient, payout: Payout) -> stripe.Transfer | None:
    """The transfer Stripe holds for the payout, if one was sent."""
    found = client.v1.transfers.list({"transfer_group": transfer_group(payout.id), "limit": 10})
    for transfer in found.data:
        if transfer.to_dict().get("metadata", {}).get("payout_id") == str(payout.id):
            return transfer
    return None


def _record(
    engine: Engine,
    change: Callable[[Session, uuid.UUID, str, datetime], bool],
    payout_id: uuid.UUID,
    detail: str,
    now: datetime,
) -> PayoutState:
    with write_session(engine) as session:
        change(session, payout_id, detail, now)
        return session.exec(select(Payout.state).where(Payout.id == payout_id)).one()


def _leave_open_state(
    session: Session, payout_id: uuid.UUID, now: datetime, **values: object
) -> bool:
    """Move an open payout on; False (nothing changed) when it is no longer open."""
    moved = session.execute(
        update(Payout)
        .where(Payout.id == payout_id, Payout.state.in_(OPEN_STATES))
        .values(updated_at=now, **values)
    )
    return moved.rowcount == 1


def mark_paid(session: Session, payout_id: uuid.UUID, transfer_id: str, now: datetime) -> bool:
    """Record the payout's transfer (Stripe's answer, or its webhook)."""
    return _leave_open_state(
        session,
        payout_id,
        now,
        state=PayoutState.paid,
        stripe_transfer_id=transfer_id,
        last_error=None,
    )


def _count_failure(
    session: Session, payout_id: uuid.UUID, state: PayoutState, error: str, now: datetime
) -> bool:
    return _leave_open_state(
        session,
        payout_id,
        now,
        state=state,
        failed_attempts=Payout.failed_attempts + 1,
        last_error=error[:500],
    )


def mark_failed(session: Session, payout_id: uuid.UUID, error: str, now: datetime) -> bool:
    return _count_failure(session, payout_id, PayoutState.failed, error, now)


def return_payout(session: Session, payout_id: uuid.UUID, reason: str, now: datetime) -> bool:
    """An open payout whose transfer Stripe refused: returned, and its entry reversed so the
    amount is back in the holder's payable (once)."""
    if not _count_failure(session, payout_id, PayoutState.returned, reason, now):
        return False
    reverse_entry(
        session,
        key=payout_key(payout_id),
        memo=f"Payout {payout_id} returned: {reason}"[:MAX_MEMO_LENGTH],
        now=now,
    )
    return True
