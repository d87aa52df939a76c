"""Claims, disputes and money in any order (a hypothesis state machine, on SQLite and
PostgreSQL): characters registered, their claims submitted, verified, rejected and submitted
again; disputes opened about assets, upheld or dismissed; uses released, taken down; payouts
made.

After every step: every entry balances and every cached balance equals its legs; each
account of the run holds what a simple model says; each held account holds exactly the
shares still held; and each use's held share is in one state the model agrees with: held,
paid in after a verification, or returned to its creator, never both and never lost; no money
reaches an unverified or disputed asset (each use's earning is the model's: held while a
dispute is undecided, returned once one is upheld). A payout never pays held money: what a
payout run finds due is the payable alone.

Preconditions read only the machine's own model, never the database (a precondition reading
outside state makes hypothesis report a flaky strategy).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ledgering import check_owned_balances, people, released_generation, write_transaction
from sqlalchemy import Engine
from sqlmodel import select

from clearhouse.accounts.models import Account, Role
from clearhouse.db import snapshot_session, utcnow
from payouts.accounts import AccountRef, held, payable, platform, wallet
from payouts.balances import balance_of
from payouts.earning import Earning, earnings
from payouts.models import AccountKind, HeldShare, HeldShareState
from payouts.runs import due_payouts, make_payout
from payouts.split import LicensedUse, Usage, holder_share, split_usage
from payouts.takedowns import reverse_takedowns
from payouts.usage import post_claimed_usage
from rights.claims import service as claims
from rights.claims.models import ClaimStatus, EvidenceKind
from rights.claims.schemas import ClaimEvidence
from rights.disputes import service as disputes
from rights.disputes.models import DisputeKind, DisputeStatus
from rights.disputes.schemas import DisputeOpening
from rights.models import Asset, AssetKind

CURRENCY = "USD"
STATEMENT = "I drew this character and registered it as a trademark."


@dataclass
class Share:
    """A held share of one use of one asset, as the model sees it."""

    holder: uuid.UUID
    creator: uuid.UUID
    amount: int
    state: HeldShareState


class HeldShareMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test, on each database

    def __init__(self) -> None:
        super().__init__()
        self.creators, self.holders = people(self.engine, creators=2, holders=2)
        (self.staff,), _ = people(self.engine, creators=1, holders=0)
        with write_transaction(self.engine) as session:
            session.get(Account, self.staff).role = Role.moderator
        self.model: dict[AccountRef, int] = defaultdict(int)
        self.assets: list[tuple[uuid.UUID, uuid.UUID]] = []  # (asset, holder)
        self.claims: dict[uuid.UUID, ClaimStatus] = {}  # asset -> its claim's status
        self.kinds: dict[
            uuid.UUID, AssetKind
        ] = {}  # the model's, so preconditions read no database
        self.handles: dict[uuid.UUID, str] = {}
        self.disputes: dict[uuid.UUID, tuple[uuid.UUID, DisputeStatus]] = {}  # asset -> latest
        self.shares: dict[tuple[uuid.UUID, uuid.UUID], Share] = {}  # (generation, asset)
        self.uses: list[Usage] = []
        self.taken_down: set[uuid.UUID] = set()
        self.periods = 0

    def _move(self, account: AccountRef, amount: int) -> None:
        self.model[account] += amount

    @rule(
        holder=st.integers(0, 1),
        kind=st.sampled_from((AssetKind.character, AssetKind.character, AssetKind.likeness)),
        decided=st.sampled_from((None, "pending", "verify", "reject")),
    )
    def register(self, holder, kind, decided) -> None:
        """A new asset; a character's claim perhaps submitted and decided at once (so that
        every standing is a step or two away)."""
        owner = self.holders[holder]
        with write_transaction(self.engine) as session:
            asset = Asset(
                owner_id=owner, kind=kind, handle=f"h{uuid.uuid4().hex[:12]}", name="Held Hero"
            )
            session.add(asset)
        self.assets.append((asset.id, owner))
        self.kinds[asset.id] = kind
        self.handles[asset.id] = asset.handle
        if kind == AssetKind.character and decided is not None:
            self._submit(asset.id)
            if decided != "pending":
                self._decide(asset.id, verify=decided == "verify")

    def _claimable(self, *statuses: ClaimStatus | None) -> list[uuid.UUID]:
        return [
            asset_id
            for asset_id, _ in self.assets
            if self.kinds[asset_id] == AssetKind.character and self.claims.get(asset_id) in statuses
        ]

    @precondition(lambda self: self._claimable(None, ClaimStatus.rejected, ClaimStatus.pending))
    @rule(data=st.data())
    def submit(self, data) -> None:
        self._submit(
            data.draw(
                st.sampled_from(self._claimable(None, ClaimStatus.rejected, ClaimStatus.pending))
            )
        )

    def _submit(self, asset_id: uuid.UUID) -> None:
        with write_transaction(self.engine) as session:
            asset = session.get(Asset, asset_id)
            claims.submit_evidence(
                session,
                owner=session.get(Account, asset.owner_id),
                asset=asset,
                evidence=ClaimEvidence(
                    evidence_kind=EvidenceKind.link,
                    reference="https://tm.example/1",
                    statement=STATEMENT,
                ),
                document=None,
            )
        self.claims[asset_id] = ClaimStatus.pending

    @precondition(lambda self: self._claimable(ClaimStatus.pending))
    @rule(data=st.data(), verify=st.booleans())
    def decide(self, data, verify) -> None:
        self._decide(
            data.draw(st.sampled_from(self._claimable(ClaimStatus.pending))), verify=verify
        )

    def _decide(self, asset_id: uuid.UUID, *, verify: bool) -> None:
        with write_transaction(self.engine) as session:
            claim_id = claims.owned_claim(session, asset=session.get(Asset, asset_id)).claim.id
            claims.decide_claim(
                session,
                staff=session.get(Account, self.staff),
                claim_id=claim_id,
                verify=verify,
                reason="checked",
            )
        self.claims[asset_id] = ClaimStatus.verified if verify else ClaimStatus.rejected
        self._settle(asset_id)

    def _earning(self, asset_id: uuid.UUID) -> Earning:
        """What the asset's uses do now, by the model: returned after a rejected claim or an
        upheld dispute; held until its claim is verified and while a dispute is undecided."""
        claim = (
            ClaimStatus.verified
            if self.kinds[asset_id] == AssetKind.likeness
            else self.claims.get(asset_id)
        )
        dispute = self.disputes.get(asset_id, (None, None))[1]
        if claim == ClaimStatus.rejected or dispute == DisputeStatus.upheld:
            return Earning.returned
        if claim != ClaimStatus.verified or dispute == DisputeStatus.open:
            return Earning.held
        return Earning.earns

    def _settle(self, asset_id: uuid.UUID) -> None:
        """A decision about the asset: its held shares paid in, returned, or left held."""
        earning = self._earning(asset_id)
        if earning == Earning.held:
            return
        for (_, share_asset), share in self.shares.items():
            if share_asset != asset_id or share.state != HeldShareState.held:
                continue
            self._move(held(share.holder, CURRENCY), -share.amount)
            if earning == Earning.earns:
                share.state = HeldShareState.paid
                self._move(payable(share.holder, CURRENCY), share.amount)
            else:
                share.state = HeldShareState.returned
                self._move(wallet(share.creator, CURRENCY), share.amount)

    def _undisputed(self) -> list[uuid.UUID]:
        return [
            asset_id
            for asset_id, _ in self.assets
            if self.disputes.get(asset_id, (None, None))[1]
            not in (DisputeStatus.open, DisputeStatus.upheld)
        ]

    @precondition(lambda self: self._undisputed())
    @rule(data=st.data())
    def dispute(self, data) -> None:
        """A creator disputes an asset; its new uses' shares are held until staff decide."""
        asset_id = data.draw(st.sampled_from(self._undisputed()))
        with write_transaction(self.engine) as session:
            view = disputes.open_dispute(
                session,
                opener=session.get(Account, self.creators[0]),
                opening=DisputeOpening(
                    asset_handle=self.handles[asset_id],
                    kind=DisputeKind.improper_registration,
                    statement="This is a copy of a character I registered years ago.",
                ),
                document=None,
                answer_days=14,
            )
        self.disputes[asset_id] = (view.dispute.id, DisputeStatus.open)

    def _open_disputes(self) -> list[uuid.UUID]:
        return [
            asset_id
            for asset_id, (_, status) in self.disputes.items()
            if status == DisputeStatus.open
        ]

    @precondition(lambda self: self._open_disputes())
    @rule(data=st.data(), uphold=st.booleans())
    def decide_dispute(self, data, uphold) -> None:
        """The holder answers, staff uphold (held shares go back) or dismiss (paid in when
        its claim is verified)."""
        asset_id = data.draw(st.sampled_from(self._open_disputes()))
        dispute_id, _ = self.disputes[asset_id]
        owner = dict(self.assets)[asset_id]
        with write_transaction(self.engine) as session:
            disputes.answer_dispute(
                session, holder=session.get(Account, owner), dispute_id=dispute_id, body="Ours."
            )
        with write_transaction(self.engine) as session:
            disputes.decide_dispute(
                session,
                staff=session.get(Account, self.staff),
                dispute_id=dispute_id,
                uphold=uphold,
                reason="checked",
            )
        status = DisputeStatus.upheld if uphold else DisputeStatus.dismissed
        self.disputes[asset_id] = (dispute_id, status)
        self._settle(asset_id)

    @precondition(lambda self: self.assets)
    @rule(
        data=st.data(),
        creator=st.integers(0, 1),
        compute=st.integers(0, 300),
        licences=st.lists(
            st.tuples(
                st.integers(0, 20), st.integers(0, 5_000), st.sampled_from((0, 1, 7000, 10_000))
            ),
            min_size=1,
            max_size=3,
            unique_by=lambda licence: licence[0],
        ),
    )
    def use(self, data, creator, compute, licences) -> None:
        """A release of a use of some assets, held or earned as their claims stand."""
        # By position among the machine's assets, never by id: ids are new on every replay, so
        # an order by id would pair fees with assets differently each time (a flaky machine).
        positions = sorted({index % len(self.assets) for index, _, _ in licences})
        picked = [
            (*self.assets[position], fee, share)
            for position, (_, fee, share) in zip(positions, licences, strict=False)
        ]
        creator_id = self.creators[creator]
        generation_id = released_generation(self.engine, creator_id)
        with write_transaction(self.engine) as session:
            standings = earnings(
                session,
                assets=[(asset_id, self.kinds[asset_id]) for asset_id, *_ in picked],
                lock=True,
            )
            # The release's reading is the model's: no money reaches an unverified or
            # disputed asset.
            assert standings == {asset_id: self._earning(asset_id) for asset_id, *_ in picked}
            one = Usage(
                generation_id=generation_id,
                creator_id=creator_id,
                total_minor=compute + sum(fee for _, _, fee, _ in picked),
                currency=CURRENCY,
                licences=tuple(
                    LicensedUse(
                        holder_id=owner,
                        price_minor=fee,
                        revenue_share_bps=share,
                        asset_id=asset_id,
                        held=standings[asset_id] != Earning.earns,
                    )
                    for asset_id, owner, fee, share in picked
                ),
            )
            post_claimed_usage(session, one, standings=standings, now=utcnow())
        if one.total_minor == 0:
            return
        self.uses.append(one)
        split = split_usage(one)
        self._move(wallet(creator_id, CURRENCY), -one.total_minor)
        self._move(platform(AccountKind.platform_revenue, CURRENCY), split.platform_minor)
        for holder, amount in split.holders.items():
            self._move(payable(holder, CURRENCY), amount)
        for asset_id, owner, fee, share in picked:
            amount = holder_share(fee, share)
            if standings[asset_id] == Earning.earns or not amount:
                continue
            rejected = standings[asset_id] == Earning.returned
            self.shares[(generation_id, asset_id)] = Share(
                holder=owner,
                creator=creator_id,
                amount=amount,
                state=HeldShareState.returned if rejected else HeldShareState.held,
            )
            if rejected:
                self._move(wallet(creator_id, CURRENCY), amount)
            else:
                self._move(held(owner, CURRENCY), amount)

    @precondition(lambda self: any(self.model[payable(h, CURRENCY)] > 0 for h in self.holders))
    @rule()
    def pay_out(self) -> None:
        """A payout run's first step: what is due is the payables alone, and each is paid."""
        self.periods += 1
        # A month after every posting (this is the run's first step, called as is): what it
        # owes is the whole payable.
        period = f"{3000 + self.periods:04d}-01"
        due = [
            one
            for one in due_payouts(self.engine, period=period, minimum_minor=1)
            if one.holder_id in self.holders
        ]
        expected = {h: self.model[payable(h, CURRENCY)] for h in self.holders}
        assert {one.holder_id: one.amount_minor for one in due} == {
            h: amount for h, amount in expected.items() if amount > 0
        }
        for one in due:
            made = make_payout(
                self.engine,
                due=type(one)(one.holder_id, one.currency, one.amount_minor, "acct_held_machine"),
                period=period,
                minimum_minor=1,
                now=utcnow(),
            )
            assert made is not None
            self._move(payable(one.holder_id, CURRENCY), -one.amount_minor)

    @precondition(lambda self: self.uses)
    @rule(data=st.data())
    def take_down(self, data) -> None:
        one = data.draw(st.sampled_from(self.uses))
        with write_transaction(self.engine) as session:
            reverse_takedowns(
                session, generation_ids=[one.generation_id], reason="down", now=utcnow()
            )
        if one.generation_id in self.taken_down:
            return
        self.taken_down.add(one.generation_id)
        split = split_usage(one)
        returned_before = 0
        paid_in: dict[uuid.UUID, int] = defaultdict(int)
        for (generation_id, _), share in self.shares.items():
            if generation_id != one.generation_id:
                continue
            if share.state == HeldShareState.held:
                share.state = HeldShareState.returned
                self._move(held(share.holder, CURRENCY), -share.amount)
            elif share.state == HeldShareState.paid:
                paid_in[share.holder] += share.amount
            else:
                returned_before += share.amount
        borne = 0
        for holder in set(split.holders) | set(paid_in):
            owed = split.holders.get(holder, 0) + paid_in[holder]
            account = payable(holder, CURRENCY)
            taken = min(self.model[account], owed)
            self._move(account, -taken)
            borne += owed - taken
        self._move(wallet(one.creator_id, CURRENCY), one.total_minor - returned_before)
        self._move(platform(AccountKind.platform_revenue, CURRENCY), -split.platform_minor - borne)

    @invariant()
    def held_shares_are_paid_or_returned_never_both_never_lost(self) -> None:
        with snapshot_session(self.engine) as session:
            check_owned_balances(session, self.model)
            rows = session.exec(
                select(HeldShare).where(HeldShare.holder_id.in_(self.holders))
            ).all()
            assert {(row.generation_id, row.asset_id): row.state for row in rows} == {
                key: share.state for key, share in self.shares.items()
            }
            for row in rows:
                assert (row.settled_key is None) == (row.state == HeldShareState.held)
                if row.state == HeldShareState.paid:
                    assert row.settled_key.startswith("held_release:")
            for holder in self.holders:
                still_held = sum(
                    share.amount
                    for share in self.shares.values()
                    if share.holder == holder and share.state == HeldShareState.held
                )
                assert balance_of(session, held(holder, CURRENCY)) == still_held


def test_held_shares_are_paid_or_returned_whatever_the_order(ledger_engine):
    machine = type("HeldShareMachineHere", (HeldShareMachine,), {"engine": ledger_engine})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
