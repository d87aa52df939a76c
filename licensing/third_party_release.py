"""A third-party generator's release: licensed, charged and paid like our generator's.

A clearance that our generator does not run (no generation job holds it) is released by its
first output check whose verdict is release_allowed (licensing/output_checks.py). In that
check's write transaction, with the clearance's row locked for update (so that two checks of
one clearance run one after the other, and the second finds the first's charge):

- every grant the release relies on is read again under a shared row lock
  (licensing/licences.py): the clearance's, and each licence offered for an earlier blocked
  output of it and accepted (licensing/offers/). A withdrawal that committed first, or an
  asset that may no longer license, blocks the release, and nothing is charged;
- otherwise its licences and its charge (the quote's total, with each accepted offer's price)
  are recorded, with no generation, and posted to the ledger under
  ``release:clearance:<clearance id>`` (payouts/usage.py): the same split, held shares and
  wallet rules as our generator's release; each licensed asset's owner is told
  (``use.released``, with the clearance's id and the fee).

A later allowed check of the same clearance finds its charge and posts nothing more.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from generator.models import GenerationJob
from licensing.licences import (
    PlannedLicence,
    clearance_licences,
    tell_owners,
    unlicensable_assets,
    withdrawn_consents,
)
from licensing.models import Charge, Clearance
from licensing.offers.models import LicenceOffer, OfferStatus
from notifications.kinds import NoticeKind
from payouts.usage import post_third_party_release
from policies.models import PolicyVersion
from rights.models import Asset


@dataclass(frozen=True)
class ThirdPartyRelease:
    """What the release of an allowed output came to: the charge it posted, or why it could
    not release (nothing charged)."""

    charge: Charge | None = None
    withheld: tuple[str, ...] = ()


def lock_clearance(session: Session, *, clearance_id: uuid.UUID) -> None:
    """Lock the clearance's row for update: its output checks run one at a time."""
    session.exec(select(Clearance.id).where(Clearance.id == clearance_id).with_for_update()).one()


def released_by_third_party(session: Session, *, clearance: Clearance) -> bool:
    """Whether releasing this clearance's allowed output is a third party's to do: our
    generator's clearances (a job holds each) are released by the generator."""
    charged = session.exec(select(Charge.id).where(Charge.clearance_id == clearance.id)).first()
    ours = session.exec(
        select(GenerationJob.id).where(GenerationJob.clearance_id == clearance.id)
    ).first()
    return charged is None and ours is None


def release_for_third_party(
    session: Session, *, clearance: Clearance, now: datetime
) -> ThirdPartyRelease:
    """Release ``clearance``'s allowed output in ``session``'s write transaction (see the
    module); the caller holds the clearance's lock and found it not yet released."""
    currency = clearance.quote["currency"]
    offered = _accepted_offers(session, clearance_id=clearance.id)
    licences = [*clearance_licences(session, clearance_id=clearance.id, currency=currency)]
    licences += [licence for licence in offered if licence.asset_id not in _assets(licences)]
    withdrawn = withdrawn_consents(
        session, grant_ids=[licence.grant_id for licence in licences], lock=True
    )
    unlicensable = unlicensable_assets(session, asset_ids=sorted(_assets(licences)))
    if withdrawn or unlicensable:
        return ThirdPartyRelease(withheld=_withheld_reasons(withdrawn, unlicensable))
    session.add_all(
        licence.recorded(clearance_id=clearance.id, generation_id=None, now=now)
        for licence in licences
    )
    offered_minor = sum(licence.price_minor for licence in licences if licence in offered)
    charge = Charge(
        generation_id=None,
        payer_id=clearance.requester_id,
        clearance_id=clearance.id,
        amount_minor=clearance.quote["total_minor"] + offered_minor,
        currency=currency,
        created_at=now,
    )
    session.add(charge)
    session.flush()
    post_third_party_release(session, clearance_id=clearance.id, now=now)
    tell_owners(
        session,
        NoticeKind.use_released,
        use={"clearance_id": clearance.id},
        licences=licences,
        now=now,
    )
    return ThirdPartyRelease(charge=charge)


def _assets(licences: Sequence[PlannedLicence]) -> set[uuid.UUID]:
    return {licence.asset_id for licence in licences}


def _accepted_offers(session: Session, *, clearance_id: uuid.UUID) -> list[PlannedLicence]:
    """A licence per asset offered for an earlier blocked output of the clearance and
    accepted (the first accepted, when several outputs were offered for one asset)."""
    rows = session.exec(
        select(LicenceOffer, PolicyVersion.version, Asset.handle)
        .join(PolicyVersion, PolicyVersion.id == LicenceOffer.policy_version_id)
        .join(Asset, Asset.id == LicenceOffer.asset_id)
        .where(
            LicenceOffer.clearance_id == clearance_id,
            LicenceOffer.status == OfferStatus.accepted,
        )
        .order_by(col(LicenceOffer.decided_at), LicenceOffer.id)
    ).all()
    licences: dict[uuid.UUID, PlannedLicence] = {}
    for offer, version, handle in rows:
        licences.setdefault(
            offer.asset_id, PlannedLicence.offered(offer, version=version, handle=handle)
        )
    return sorted(licences.values(), key=lambda licence: (licence.handle, licence.asset_id))


def _withheld_reasons(withdrawn: Sequence[str], unlicensable: Sequence[str]) -> tuple[str, ...]:
    reasons = []
    if withdrawn:
        named = ", ".join(f"@{handle}" for handle in withdrawn)
        reasons.append(
            f"Release blocked: consent for {named} was withdrawn after the request was cleared. "
            "Nothing is charged; the output may not be used."
        )
    if unlicensable:
        named = ", ".join(f"@{handle}" for handle in unlicensable)
        reasons.append(
            f"Release blocked: {named} may no longer be licensed (deleted, in review, or "
            "decided against since the request was cleared). Nothing is charged; the output "
            "may not be used."
        )
    return tuple(reasons)
