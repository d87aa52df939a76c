"""Held shares: what an unverified asset's uses would have earned, kept apart until its claim
is decided.

At release (payouts/usage.py) a licence of an asset whose claim is not verified credits its
holder's held account (``AccountKind.held_share``), not their payable, and a ``HeldShare`` row
records that use's share for that asset and whose wallet it came from. A payout run reads
payables only, so held money is never paid out. When staff decide the claim:

- **verified**: the asset's held shares move to the payable in one entry
  (:func:`release_held_shares`);
- **rejected**: each use's held share goes back to the creator's wallet it came from, one
  entry per use (:func:`return_held_shares`).

Each row is settled once: it is read under its row lock and changed from ``held`` only, in the
transaction that posts its entry, so a share is paid or returned, never both, and calling
either again posts nothing. A takedown of a use settles its held shares too
(payouts/takedowns.py).
"""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from payouts.accounts import held, payable, wallet
from payouts.journal import (
    MAX_MEMO_LENGTH,
    EntryDraft,
    PostedEntry,
    credit,
    debit,
    post_entries,
)
from payouts.models import EntryEvent, HeldShare, HeldShareState
from payouts.split import Usage, UsageSplit


def hold_shares(
    session: Session, usages: Sequence[tuple[Usage, UsageSplit]], *, now: datetime
) -> None:
    """Record the held share of each unverified asset in each of ``usages`` (just posted,
    each with its split). None held (most uses): nothing to write, and no flush."""
    shares = [
        HeldShare(
            generation_id=usage.generation_id,
            clearance_id=usage.clearance_id,
            asset_id=asset_id,
            holder_id=holder_id,
            creator_id=usage.creator_id,
            amount_minor=amount,
            currency=usage.currency,
            state=HeldShareState.held,
            held_at=now,
        )
        for usage, split in usages
        for (holder_id, asset_id), amount in split.held_assets.items()
    ]
    if shares:
        session.add_all(shares)
        session.flush()


def _held_rows(
    session: Session,
    *,
    asset_id: uuid.UUID,
    generation_ids: Sequence[uuid.UUID] | None = None,
    clearance_ids: Sequence[uuid.UUID] = (),
) -> list[HeldShare]:
    """The asset's shares still held (of ``generation_ids`` and ``clearance_ids`` only, when
    ``generation_ids`` is given), locked for update, in a fixed order."""
    query = (
        select(HeldShare)
        .where(HeldShare.asset_id == asset_id, HeldShare.state == HeldShareState.held)
        .order_by(HeldShare.generation_id, HeldShare.clearance_id)
        .with_for_update()
    )
    if generation_ids is not None:
        query = query.where(
            or_(
                col(HeldShare.generation_id).in_(list(generation_ids)),
                col(HeldShare.clearance_id).in_(list(clearance_ids)),
            )
        )
    return list(session.exec(query).all())


def _use_of(share: HeldShare) -> str:
    """The release a share is of, as keys name it: a generation id, or a third-party
    release's ``clearance:<clearance id>``."""
    if share.generation_id is not None:
        return str(share.generation_id)
    return f"clearance:{share.clearance_id}"


def _settle(rows: Sequence[HeldShare], *, state: HeldShareState, keys: Sequence[str], now) -> None:
    for row, key in zip(rows, keys, strict=True):
        row.state, row.settled_at, row.settled_key = state, now, key


def release_held_shares(
    session: Session, *, asset_id: uuid.UUID, reason: str, now: datetime
) -> list[PostedEntry]:
    """Move the asset's held shares to its holder's payable: one entry per currency (a
    holder's uses are almost always in one), its memo saying why (``reason``: the decision).
    Nothing held: nothing posted."""
    rows = _held_rows(session, asset_id=asset_id)
    by_currency: dict[str, list[HeldShare]] = defaultdict(list)
    for row in rows:
        by_currency[row.currency].append(row)
    drafts = []
    for currency, shares in sorted(by_currency.items()):
        holder_id = shares[0].holder_id
        total = sum(share.amount_minor for share in shares)
        uses = hashlib.sha256("\n".join(_use_of(share) for share in shares).encode()).hexdigest()
        key = f"{EntryEvent.held_release.value}:{asset_id}:{currency}:{uses}"
        drafts.append(
            EntryDraft(
                key=key,
                event=EntryEvent.held_release,
                memo=f"{len(shares)} held shares of asset {asset_id} paid in: {reason}"[
                    :MAX_MEMO_LENGTH
                ],
                legs=(
                    debit(held(holder_id, currency), total),
                    credit(payable(holder_id, currency), total),
                ),
            )
        )
        _settle(shares, state=HeldShareState.paid, keys=[key] * len(shares), now=now)
    posted = post_entries(session, drafts, now=now)
    session.add_all(rows)
    session.flush()
    return posted


def return_key(share: HeldShare) -> str:
    return f"{EntryEvent.held_return.value}:{_use_of(share)}:{share.asset_id}"


def return_held_shares(
    session: Session,
    *,
    asset_id: uuid.UUID,
    reason: str,
    now: datetime,
    generation_ids: Sequence[uuid.UUID] | None = None,
    clearance_ids: Sequence[uuid.UUID] = (),
) -> list[PostedEntry]:
    """Give each of the asset's held shares (of ``generation_ids`` and third-party
    ``clearance_ids`` only, when ``generation_ids`` is given) back to the creator it came
    from: one entry per use."""
    rows = _held_rows(
        session, asset_id=asset_id, generation_ids=generation_ids, clearance_ids=clearance_ids
    )
    keys = [return_key(row) for row in rows]
    drafts = [
        EntryDraft(
            key=key,
            event=EntryEvent.held_return,
            memo=f"Held share of asset {asset_id} returned: {reason}"[:MAX_MEMO_LENGTH],
            legs=(
                debit(held(row.holder_id, row.currency), row.amount_minor),
                credit(wallet(row.creator_id, row.currency), row.amount_minor),
            ),
            generation_id=row.generation_id,
            clearance_id=row.clearance_id,
        )
        for row, key in zip(rows, keys, strict=True)
    ]
    posted = post_entries(session, drafts, now=now)
    _settle(rows, state=HeldShareState.returned, keys=keys, now=now)
    session.add_all(rows)
    session.flush()
    return posted


def held_of_asset(session: Session, *, asset_id: uuid.UUID) -> dict[str, int]:
    """What the asset's uses have held now, per currency (what a decision would settle)."""
    rows = session.exec(
        select(HeldShare.currency, func.sum(HeldShare.amount_minor))
        .where(HeldShare.asset_id == asset_id, HeldShare.state == HeldShareState.held)
        .group_by(HeldShare.currency)
    ).all()
    return {currency: int(total) for currency, total in rows}
