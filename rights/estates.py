"""Estates: a likeness reported as a deceased person's is never usable, unless an estate whose
authority a moderator verified consents; the verified estate then acts as its owner
(rights/authority.py).

A report takes effect at once (failing towards no use is safe for consent), and its person's
account keeps only what it needs to protect itself: seeing and withdrawing. A moderator who
rejects a claim may say the person is living, which lifts the report.
"""

import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import Conflict, NotFound
from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from likeness.errors import PartyToConflict
from rights.authority import acts_for
from rights.models import Asset, AssetKind, EstateClaim, EstateClaimStatus
from rights.service import ConsentChange, revoke_asset_grants


def report_deceased(
    session: Session, *, reporter: Account, asset_id: uuid.UUID, note: str
) -> Asset:
    """Staff report a likeness as a deceased person's: from now on nobody may use it."""
    likeness = _likeness(session, asset_id)
    _mark_deceased(session, likeness=likeness, actor=reporter, note=note)
    session.flush()
    return likeness


def claim_estate(
    session: Session, *, applicant: Account, asset_id: uuid.UUID, evidence: str
) -> EstateClaim:
    """An applicant reports the person's death and claims to act for their estate, with
    evidence for a moderator. The report stops every use now; the claim waits."""
    likeness = _likeness(session, asset_id)
    if likeness.owner_id == applicant.id:
        raise Conflict("This is your own likeness: an estate acts for someone else.")
    claim = EstateClaim(asset_id=likeness.id, applicant_id=applicant.id, evidence=evidence)
    session.add(claim)
    session.flush()
    _mark_deceased(session, likeness=likeness, actor=applicant, note=f"estate claim {claim.id}")
    record_event(
        session,
        action="estate.claimed",
        actor_id=applicant.id,
        asset_id=likeness.id,
        details={"claim_id": str(claim.id)},
    )
    session.flush()
    return claim


def pending_claims(session: Session) -> list[EstateClaim]:
    return list(
        session.exec(
            select(EstateClaim)
            .where(EstateClaim.status == EstateClaimStatus.pending)
            .order_by(EstateClaim.created_at, EstateClaim.id)
        ).all()
    )


@dataclass(frozen=True)
class EstateDecision:
    claim: EstateClaim
    withdrawn: list[ConsentChange]


def decide_claim(
    session: Session,
    *,
    moderator: Account,
    claim_id: uuid.UUID,
    verify: bool,
    note: str,
    person_is_living: bool,
    settings: Settings,
    keys: KeyRing,
) -> EstateDecision:
    """Verify (the applicant becomes the estate, and every consent given before is withdrawn:
    only the estate's stands) or reject. Audited, naming the moderator; nobody decides a claim
    they are party to."""
    claim = session.get(EstateClaim, claim_id, with_for_update=True)
    if claim is None:
        raise NotFound("No estate claim with this id.")
    likeness = session.get(Asset, claim.asset_id, with_for_update=True)
    # The person's agent acts for them: a party too (``may`` no longer asks once reported).
    if moderator.id == claim.applicant_id or acts_for(
        session, account_id=moderator.id, person_id=likeness.owner_id
    ):
        raise PartyToConflict("You are party to this claim; another moderator decides it.")
    if claim.status != EstateClaimStatus.pending:
        raise Conflict(f"This claim was {claim.status.value} already.")
    claim.status = EstateClaimStatus.verified if verify else EstateClaimStatus.rejected
    claim.decided_by, claim.decided_at, claim.decision_note = moderator.id, utcnow(), note
    session.add(claim)
    withdrawn: list[ConsentChange] = []
    if verify:
        if likeness.estate_account_id is not None:
            raise Conflict("Another estate's authority over this likeness is verified already.")
        withdrawn = revoke_asset_grants(
            session,
            actor=moderator,
            asset=likeness,
            reason="the estate's authority was verified: only its consent stands",
            settings=settings,
            keys=keys,
        )
        likeness.estate_account_id = claim.applicant_id
    elif person_is_living and likeness.estate_account_id is None:
        likeness.deceased_reported_at = None
    session.add(likeness)
    record_event(
        session,
        action=f"estate.{claim.status.value}",
        actor_id=moderator.id,
        asset_id=likeness.id,
        details={
            "claim_id": str(claim.id),
            "applicant_id": str(claim.applicant_id),
            "note": note,
            "person_is_living": person_is_living and not verify,
        },
    )
    session.flush()
    return EstateDecision(claim=claim, withdrawn=withdrawn)


def _likeness(session: Session, asset_id: uuid.UUID) -> Asset:
    likeness = session.exec(
        select(Asset)
        .where(Asset.id == asset_id, Asset.kind == AssetKind.likeness, Asset.deleted_at.is_(None))
        .with_for_update()
    ).first()
    if likeness is None:
        raise NotFound("No likeness with this id.")
    return likeness


def _mark_deceased(session: Session, *, likeness: Asset, actor: Account, note: str) -> None:
    if likeness.deceased_reported_at is not None:
        return
    likeness.deceased_reported_at = utcnow()
    session.add(likeness)
    record_event(
        session,
        action="likeness.reported_deceased",
        actor_id=actor.id,
        asset_id=likeness.id,
        details={"note": note},
    )
