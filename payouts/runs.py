"""Payout runs: each holder's payable balance, at or over the minimum, sent to their Stripe
connected account as a Connect transfer.

A run for a period (``clearhouse payouts run --period 2026-10``, or the admin's
``POST /v1/payouts/runs``) is for a UTC month that has ended: the month under way, or a later
one, is refused (:class:`PayoutPeriodNotEnded`) before anything is done, so no month's payout
is made while the month can still earn. (A payout is the payable's whole balance when the run
makes it: everything the month and those before it earned and no payout took, and whatever was
posted since the month ended, which the next month's run would otherwise pay.) A run first
retries the takedown reversals that could not be posted when their clips were taken down
(payouts/takedowns.py), so that what a payable holds is what it owes, then does two things,
each payout in transactions of its own:

1. **Make the payouts.** For each (holder, currency) whose payable holds at least
   ``CLEARHOUSE_PAYOUT_MINIMUM_MINOR`` and who has a connected account, one payout of the whole
   balance, unique per (holder, period, currency), and its ledger entry (key
   ``payout:<payout id>``: debit the holder's payable, credit ``stripe_clearing``, the money we
   hold at Stripe, which the transfer takes out of our balance there) commit together. A holder
   with no connected account gets no payout and no entry: their balance stays in the payable
   and the first run after they onboard pays it. So does a holder whose connected account
   Stripe reported (``account.updated``, payouts/account_events.py) as not able to receive
   payouts: the run reports them as skipped. (An account Stripe has not reported on yet is
   tried; Stripe refusing the transfer returns the payout.)
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
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import stripe
from sqlalchemy import Engine, exists, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clearhouse.db import read_session, utcnow, write_session
from clearhouse.errors import InvalidRequest, NotFound
from clearhouse.settings import Settings
from payouts.accounts import payable, platform
from payouts.balances import balance_of
from payouts.errors import InsufficientBalance, PayoutPeriodNotEnded
from payouts.journal import (
    MAX_MEMO_LENGTH,
    EntryDraft,
    credit,
    debit,
    post_entry,
    reverse_entry,
)
from payouts.models import AccountKind, EntryEvent, LedgerAccount
from payouts.payout_models import OPEN_STATES, Payout, PayoutAccount, PayoutState
from payouts.statements import Period
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
    if now < month.ends_at:
        latest = Period.containing(now).previous()
        raise PayoutPeriodNotEnded(
            f"{month} has not ended: a run pays what a month earned, so {month} can be run "
            f"from {month.ends_at:%Y-%m-%d} 00:00 UTC. The latest month that can be run now "
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


def due_payouts(engine: Engine, *, period: str, minimum_minor: int) -> list[Due]:
    already = exists().where(
        Payout.holder_id == LedgerAccount.owner_id,
        Payout.currency == LedgerAccount.currency,
        Payout.period == period,
    )
    with read_session(engine) as session:
        rows = session.exec(
            select(
                LedgerAccount.owner_id,
                LedgerAccount.currency,
                LedgerAccount.balance_minor,
                PayoutAccount.stripe_account_id,
                PayoutAccount.payouts_enabled,
            )
            .outerjoin(PayoutAccount, PayoutAccount.holder_id == LedgerAccount.owner_id)
            .where(
                LedgerAccount.kind == AccountKind.holder_payable,
                LedgerAccount.balance_minor >= minimum_minor,
                ~already,
            )
            .order_by(LedgerAccount.owner_id, LedgerAccount.currency)
        ).all()
    return [Due(*row) for row in rows]


def make_payout(
    engine: Engine, *, due: Due, period: str, minimum_minor: int, now: datetime
) -> uuid.UUID | None:
    """Make the payout of ``due`` and post its entry, in one transaction; None when another
    run made it first or the payable fell under the minimum meanwhile."""
    assert due.destination is not None
    try:
        with write_session(engine) as session:
            amount = balance_of(session, payable(due.holder_id, due.currency))
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
