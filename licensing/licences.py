"""The licences a release records, and the re-check of their consents: shared by our
generator's release (generator/release.py) and a third-party generator's
(licensing/third_party_release.py).

A release licenses each asset its clearance allowed, under the grant and policy version the
clearance recorded for it, at the fee the clearance quoted, and re-reads those grants under
a shared row lock (``FOR SHARE`` on PostgreSQL; SQLite runs one write transaction at a time):
a revocation locks its grant for update, so one that committed first is seen, and one that
comes later waits for the release to commit.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from licensing.errors import ClearanceRefusal, ClearanceTokenRefused
from licensing.models import ClearedAsset, FoundIn, Licence
from licensing.offers.models import LicenceOffer
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from policies.decisions import AssetOutcome, ReliedGrant
from policies.models import PolicyVersion
from rights.models import Asset, AssetStanding, ConsentGrant, GrantStatus


@dataclass(frozen=True)
class PlannedLicence:
    """A licence the release will record, as the clearance (or an accepted offer) priced it."""

    asset_id: uuid.UUID
    handle: str
    grant_id: uuid.UUID
    policy_version_id: uuid.UUID
    policy_version: int
    price_minor: int
    currency: str

    @classmethod
    def offered(cls, offer: LicenceOffer, *, version: int, handle: str) -> "PlannedLicence":
        """The licence an accepted offer sells, at the offer's price, under its grant."""
        return cls(
            asset_id=offer.asset_id,
            handle=handle,
            grant_id=offer.grant_id,
            policy_version_id=offer.policy_version_id,
            policy_version=version,
            price_minor=offer.price_minor,
            currency=offer.currency,
        )

    def recorded(
        self, *, clearance_id: uuid.UUID, generation_id: uuid.UUID | None, now: datetime
    ) -> Licence:
        """The licence row a release records for this use (``generation_id`` None for a third
        party's)."""
        return Licence(
            generation_id=generation_id,
            clearance_id=clearance_id,
            asset_id=self.asset_id,
            grant_id=self.grant_id,
            policy_version_id=self.policy_version_id,
            price_minor=self.price_minor,
            currency=self.currency,
            created_at=now,
        )


def planned_licences(
    session: Session,
    *,
    clearance_id: uuid.UUID,
    relied_on: Sequence[ReliedGrant],
    currency: str,
) -> list[PlannedLicence]:
    """A licence for each grant the clearance token relies on, at the fee the clearance
    recorded for its asset. Raises ClearanceTokenRefused when the token names a grant the
    clearance did not allow (we signed both, so only a forged store gets here)."""
    rows = session.exec(
        select(ClearedAsset, PolicyVersion.version, Asset.handle)
        .join(PolicyVersion, PolicyVersion.id == ClearedAsset.policy_version_id)
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .where(
            ClearedAsset.clearance_id == clearance_id,
            ClearedAsset.found_in == FoundIn.request,
            ClearedAsset.outcome == AssetOutcome.allow,
        )
    ).all()
    allowed = {cleared.grant_id: (cleared, version, handle) for cleared, version, handle in rows}
    licences = []
    for relied in relied_on:
        if relied.grant_id not in allowed:
            raise ClearanceTokenRefused(
                ClearanceRefusal.claims_rejected,
                "The clearance token relies on a grant its clearance did not allow.",
            )
        cleared, version, handle = allowed[relied.grant_id]
        licences.append(
            PlannedLicence(
                asset_id=relied.asset_id,
                handle=handle,
                grant_id=relied.grant_id,
                policy_version_id=relied.policy_version_id,
                policy_version=version,
                price_minor=cleared.fee_minor or 0,
                currency=currency,
            )
        )
    return licences


def clearance_licences(
    session: Session, *, clearance_id: uuid.UUID, currency: str
) -> list[PlannedLicence]:
    """The licences the clearance itself allowed, as its token relied on them (each allowed
    asset's grant and policy version, recorded by the clearance that signed the token)."""
    rows = session.exec(
        select(ClearedAsset)
        .where(
            ClearedAsset.clearance_id == clearance_id,
            ClearedAsset.found_in == FoundIn.request,
            ClearedAsset.outcome == AssetOutcome.allow,
        )
        .order_by(ClearedAsset.asset_id)
    ).all()
    return planned_licences(
        session,
        clearance_id=clearance_id,
        relied_on=[
            ReliedGrant(
                asset_id=row.asset_id,
                grant_id=row.grant_id,
                policy_version_id=row.policy_version_id,
            )
            for row in rows
        ],
        currency=currency,
    )


def withdrawn_consents(
    session: Session, *, grant_ids: Sequence[uuid.UUID], lock: bool
) -> list[str]:
    """The handles of the assets whose grant among ``grant_ids`` is no longer active, read
    under a shared row lock when ``lock`` (the release's re-check)."""
    if not grant_ids:
        return []
    query = (
        select(ConsentGrant.id, ConsentGrant.status, Asset.handle)
        .join(Asset, Asset.id == ConsentGrant.asset_id)
        .where(col(ConsentGrant.id).in_(list(grant_ids)))
    )
    if lock:
        query = query.with_for_update(of=ConsentGrant, read=True)
    return sorted(
        {handle for _, status, handle in session.exec(query).all() if status != GrantStatus.active}
    )


def unlicensable_assets(session: Session, *, asset_ids: Sequence[uuid.UUID]) -> list[str]:
    """The handles of the assets among ``asset_ids`` that may no longer license: deleted, in
    review, or decided against (a moderator's decision or an upheld dispute). Read under a
    shared lock on each asset's row, which such a decision locks for update
    (rights/overlaps/cases.py)."""
    if not asset_ids:
        return []
    rows = session.exec(
        select(Asset.handle, Asset.standing, Asset.deleted_at)
        .where(col(Asset.id).in_(list(asset_ids)))
        .with_for_update(read=True)
    ).all()
    return sorted(
        {
            handle
            for handle, standing, deleted_at in rows
            if standing != AssetStanding.active or deleted_at is not None
        }
    )


def tell_owners(
    session: Session,
    kind: NoticeKind,
    *,
    use: Mapping[str, uuid.UUID],
    licences: Sequence[PlannedLicence],
    now: datetime,
) -> None:
    """Tell each licensed asset's owner, in the release's transaction, what came of the use:
    ``use`` names it (our generation's id, or a third party's clearance id)."""
    owners = dict(
        session.exec(
            select(Asset.id, Asset.owner_id).where(
                col(Asset.id).in_([licence.asset_id for licence in licences])
            )
        ).all()
    )
    notify_all(
        session,
        (
            NoticeDraft(
                owners[licence.asset_id],
                kind,
                [licence.asset_id, *use.values()],
                {
                    "asset_id": str(licence.asset_id),
                    "handle": licence.handle,
                    **{name: str(value) for name, value in use.items()},
                    # A cancelled generation is charged nothing.
                    "fee_minor": licence.price_minor if kind == NoticeKind.use_released else 0,
                    "currency": licence.currency,
                },
            )
            for licence in licences
            if owners.get(licence.asset_id) is not None
        ),
        now=now,
    )
