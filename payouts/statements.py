"""Statements: what a rights holder's payable did in one UTC month, in one currency, read from
the ledger's legs alone.

A statement opens with the payable's balance at the start of the month (the sum of its legs
posted before), lists each leg posted in the month, and closes with the opening balance plus
those legs. A usage's leg is shown as one line per licence of the holder's that it paid (the
asset, the clearance, the licence fee, the share the holder consented under, what they earned
and what the platform kept of the fee); a reversal (a takedown, a refund), a payout and any
other entry as one line with the entry's event and memo. The lines are checked to add up to
the legs before a statement is given (:class:`StatementMismatch`): a statement never shows
lines that differ from the ledger.

Read it in one snapshot (``clearhouse.db.snapshot_session``), so that the opening balance, the
lines and the closing balance all see the same postings.
"""

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, exists, func, or_, select
from sqlmodel import Session

from licensing.models import Licence
from payouts.models import (
    AccountKind,
    EntryEvent,
    HeldShare,
    JournalEntry,
    JournalLeg,
    LedgerAccount,
)
from payouts.split import holder_share
from policies.models import PolicyVersion
from rights.models import Asset

_PERIOD = re.compile(r"(?P<year>(?!0000)\d{4})-(?P<month>0[1-9]|1[0-2])")  # no year 0 in datetime
_ENTRY = JournalEntry.__table__
_LEG = JournalLeg.__table__


class StatementMismatch(RuntimeError):
    """A statement's lines do not add up to the payable's legs: a bug, never shown."""


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One UTC calendar month: from its first instant, up to (not including) the next's."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Period":
        """``2026-11`` → November 2026; raises ValueError for anything else."""
        match = _PERIOD.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a month written YYYY-MM, e.g. 2026-11")
        return cls(int(match["year"]), int(match["month"]))

    @classmethod
    def containing(cls, moment: datetime) -> "Period":
        moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    @property
    def starts_at(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def ends_at(self) -> datetime:
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    def previous(self) -> "Period":
        """The month before this one."""
        return Period.containing(self.starts_at - timedelta(days=1))

    def next(self) -> "Period":
        """The month after this one (after 9999-12 too, where no datetime reaches)."""
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def days(self) -> list[date]:
        first = self.starts_at.date()
        return [first + timedelta(days=n) for n in range((self.ends_at - self.starts_at).days)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class LineKind(StrEnum):
    use = "use"  # a licence of the holder's paid by a released generation
    reversal = "reversal"  # a use taken back: a takedown, a refund
    payout = "payout"  # money sent to the holder
    other = "other"  # any other entry on the payable: its event and memo say what


@dataclass(frozen=True, slots=True)
class StatementLine:
    posted_at: datetime
    kind: LineKind
    event: str
    memo: str
    entry_id: uuid.UUID
    amount_minor: int
    """What it added to the payable (negative: what it took)."""
    generation_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None
    asset_handle: str | None = None
    clearance_id: uuid.UUID | None = None
    gross_minor: int | None = None
    """A use's licence fee, all of it."""
    share_bps: int | None = None
    """The holder's share of the fee, in basis points, as their policy version set it."""
    fee_minor: int | None = None
    """What the platform kept of the licence fee."""


@dataclass(frozen=True, slots=True)
class StatementTotals:
    uses: int
    gross_minor: int
    fees_minor: int
    earned_minor: int
    reversed_minor: int
    """Taken back from the payable by reversals (less any reversal that gave back)."""
    paid_out_minor: int
    other_minor: int
    """What other entries added (negative: took)."""


@dataclass(frozen=True, slots=True)
class DailyEarnings:
    day: date
    earned_minor: int


@dataclass(frozen=True, slots=True)
class Statement:
    holder_id: uuid.UUID
    period: Period
    currency: str
    opening_minor: int
    closing_minor: int
    totals: StatementTotals
    lines: list[StatementLine]
    earnings_by_day: list[DailyEarnings]
    held_minor: int = 0
    """Shares of uses of the holder's unverified assets held as the month ended: not in the
    payable, never paid out until a claim is verified (payouts/held.py)."""


def payable_currencies(session: Session, *, holder_id: uuid.UUID) -> list[str]:
    """The currencies the holder has a payable or held shares in (made by their first use)."""
    return list(
        session.execute(
            select(LedgerAccount.currency)
            .where(
                LedgerAccount.owner_id == holder_id,
                LedgerAccount.kind.in_([AccountKind.holder_payable, AccountKind.held_share]),
            )
            .distinct()
            .order_by(LedgerAccount.currency)
        ).scalars()
    )


def held_at_end(session: Session, *, holder_id: uuid.UUID, period: Period, currency: str) -> int:
    """The holder's shares held as ``period`` ended: held before its end and not settled by
    then (still held, or paid in or returned later)."""
    # PostgreSQL sums BIGINTs as NUMERIC: a Decimal, made an int again.
    return int(
        session.execute(
            select(func.coalesce(func.sum(HeldShare.amount_minor), 0)).where(
                HeldShare.holder_id == holder_id,
                HeldShare.currency == currency,
                HeldShare.held_at < period.ends_at,
                or_(HeldShare.settled_at.is_(None), HeldShare.settled_at >= period.ends_at),
            )
        ).scalar_one()
    )


def holder_statements(session: Session, *, holder_id: uuid.UUID, period: Period) -> list[Statement]:
    """The holder's statement for ``period`` in each currency they have a payable in; none
    for a holder who has never earned."""
    return [
        statement_of(session, holder_id=holder_id, period=period, currency=currency)
        for currency in payable_currencies(session, holder_id=holder_id)
    ]


def periods_with_postings(session: Session, *, holder_id: uuid.UUID, until: Period) -> list[Period]:
    """The months up to ``until`` in which anything was posted to the holder's payables, newest
    first: the statements worth a link. One query, an EXISTS per month since the first posting
    (month arithmetic in SQL differs between SQLite and PostgreSQL; month bounds do not)."""
    payables = select(LedgerAccount.id).where(
        LedgerAccount.owner_id == holder_id, LedgerAccount.kind == AccountKind.holder_payable
    )
    first = session.execute(
        select(func.min(_ENTRY.c.posted_at))
        .select_from(_LEG.join(_ENTRY, _ENTRY.c.id == _LEG.c.entry_id))
        .where(_LEG.c.account_id.in_(payables))
    ).scalar_one()
    if first is None:
        return []
    months = [Period.containing(first)]
    while months[-1].starts_at < until.starts_at:
        months.append(Period.containing(months[-1].ends_at))
    posted = session.execute(
        select(
            *(
                exists()
                .where(
                    _LEG.c.entry_id == _ENTRY.c.id,
                    _LEG.c.account_id.in_(payables),
                    _ENTRY.c.posted_at >= month.starts_at,
                    _ENTRY.c.posted_at < month.ends_at,
                )
                .label(f"m{index}")
                for index, month in enumerate(months)
            )
        )
    ).one()
    active = [month for month, any_posted in zip(months, posted, strict=True) if any_posted]
    return active[::-1]


def statement_of(
    session: Session, *, holder_id: uuid.UUID, period: Period, currency: str
) -> Statement:
    """The holder's statement for ``period`` in ``currency``: opening and closing balance of
    their payable, every line, totals. A payable never used gives an empty statement at zero."""
    account_id = session.execute(
        select(LedgerAccount.id).where(
            LedgerAccount.owner_id == holder_id,
            LedgerAccount.kind == AccountKind.holder_payable,
            LedgerAccount.currency == currency,
        )
    ).scalar_one_or_none()
    held = held_at_end(session, holder_id=holder_id, period=period, currency=currency)
    if account_id is None:
        return _statement(holder_id, period, currency, opening=0, lines=[], held=held)
    opening = _movement(session, account_id, before=period.starts_at)
    lines = _use_lines(session, account_id, holder_id, period)
    lines += _other_lines(session, account_id, period)
    lines.sort(key=lambda line: (line.posted_at, str(line.entry_id), line.asset_handle or ""))
    closing = _movement(session, account_id, before=period.ends_at)
    if opening + sum(line.amount_minor for line in lines) != closing:
        raise StatementMismatch(
            f"the {period} statement's lines of payable {account_id} do not add up to its legs"
        )
    return _statement(holder_id, period, currency, opening=opening, lines=lines, held=held)


def _movement(session: Session, account_id: uuid.UUID, *, before: datetime) -> int:
    """What the payable's legs posted before ``before`` add up to (credit side up)."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(_LEG.c.credit_minor - _LEG.c.debit_minor), 0))
            .select_from(_LEG.join(_ENTRY, _ENTRY.c.id == _LEG.c.entry_id))
            .where(_LEG.c.account_id == account_id, _ENTRY.c.posted_at < before)
        ).scalar_one()
    )


def _legs_in_period(account_id: uuid.UUID, period: Period, *columns):
    """The payable's legs posted in the period, with their entry's id, time, event, memo and
    generation first, then ``columns``."""
    return (
        select(
            _ENTRY.c.id,
            _ENTRY.c.posted_at,
            _ENTRY.c.event,
            _ENTRY.c.memo,
            _ENTRY.c.generation_id,
            *columns,
        )
        .select_from(_LEG.join(_ENTRY, _ENTRY.c.id == _LEG.c.entry_id))
        .where(
            _LEG.c.account_id == account_id,
            _ENTRY.c.posted_at >= period.starts_at,
            _ENTRY.c.posted_at < period.ends_at,
        )
    )


def _use_lines(
    session: Session, account_id: uuid.UUID, holder_id: uuid.UUID, period: Period
) -> list[StatementLine]:
    """A line per licence of the holder's that a usage in the period paid for: our
    generator's releases' (by generation) and third-party generators' (by clearance, with no
    generation), each read by its own index."""
    ours = Licence.generation_id == _ENTRY.c.generation_id
    third_party = and_(
        _ENTRY.c.generation_id.is_(None),
        Licence.clearance_id == _ENTRY.c.clearance_id,
        Licence.generation_id.is_(None),
    )
    return [
        line
        for licensed in (ours, third_party)
        for line in _licence_lines(session, account_id, holder_id, period, licensed=licensed)
    ]


def _licence_lines(
    session: Session, account_id: uuid.UUID, holder_id: uuid.UUID, period: Period, *, licensed
) -> list[StatementLine]:
    rows = session.execute(
        _legs_in_period(
            account_id,
            period,
            Licence.asset_id,
            Asset.handle,
            Licence.clearance_id,
            Licence.price_minor,
            PolicyVersion.revenue_share_bps,
        )
        .join(Licence, licensed)
        .join(Asset, and_(Asset.id == Licence.asset_id, Asset.owner_id == holder_id))
        .join(PolicyVersion, PolicyVersion.id == Licence.policy_version_id)
        .where(_ENTRY.c.event == EntryEvent.usage.value)
    )
    lines = []
    for (
        entry_id,
        posted_at,
        event,
        memo,
        generation_id,
        asset_id,
        handle,
        clearance_id,
        price,
        bps,
    ) in rows:
        share = holder_share(price, bps)
        lines.append(
            StatementLine(
                posted_at=posted_at,
                kind=LineKind.use,
                event=event,
                memo=memo,
                entry_id=entry_id,
                amount_minor=share,
                generation_id=generation_id,
                asset_id=asset_id,
                asset_handle=handle,
                clearance_id=clearance_id,
                gross_minor=price,
                share_bps=bps,
                fee_minor=price - share,
            )
        )
    return lines


_KIND_OF_EVENT = {
    EntryEvent.reversal.value: LineKind.reversal,
    EntryEvent.payout.value: LineKind.payout,
}


def _other_lines(session: Session, account_id: uuid.UUID, period: Period) -> list[StatementLine]:
    """A line per leg of any entry but a usage: reversals, payouts, and events this module does
    not know, shown by their event and memo."""
    rows = session.execute(
        _legs_in_period(account_id, period, _LEG.c.credit_minor - _LEG.c.debit_minor).where(
            _ENTRY.c.event != EntryEvent.usage.value
        )
    )
    return [
        StatementLine(
            posted_at=posted_at,
            kind=_KIND_OF_EVENT.get(event, LineKind.other),
            event=event,
            memo=memo,
            entry_id=entry_id,
            amount_minor=int(amount),
            generation_id=generation_id,
        )
        for entry_id, posted_at, event, memo, generation_id, amount in rows
    ]


def _statement(
    holder_id: uuid.UUID, period: Period, currency: str, *, opening: int, lines: list, held: int
) -> Statement:
    by_kind: dict[LineKind, int] = defaultdict(int)
    earned_by_day: dict[date, int] = defaultdict(int)
    uses = gross = fees = 0
    for line in lines:
        by_kind[line.kind] += line.amount_minor
        if line.kind == LineKind.use:
            uses += 1
            gross += line.gross_minor
            fees += line.fee_minor
            earned_by_day[line.posted_at.date()] += line.amount_minor
    totals = StatementTotals(
        uses=uses,
        gross_minor=gross,
        fees_minor=fees,
        earned_minor=by_kind[LineKind.use],
        reversed_minor=-by_kind[LineKind.reversal],
        paid_out_minor=-by_kind[LineKind.payout],
        other_minor=by_kind[LineKind.other],
    )
    closing = (
        opening
        + totals.earned_minor
        - totals.reversed_minor
        - totals.paid_out_minor
        + totals.other_minor
    )
    return Statement(
        holder_id=holder_id,
        period=period,
        currency=currency,
        opening_minor=opening,
        closing_minor=closing,
        totals=totals,
        lines=lines,
        earnings_by_day=[DailyEarnings(day, earned_by_day[day]) for day in period.days()],
        held_minor=held,
    )
