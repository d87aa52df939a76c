"""Routes of estates: reporting a deceased person's likeness, claiming their estate, and the
moderators' decisions."""

import uuid

from fastapi import APIRouter, status

from clearhouse.accounts.dependencies import VerifiedAccount
from clearhouse.deps import KeysDep, ModeratorAccount, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import Conflict, NotFound, raises
from likeness.errors import PartyToConflict
from rights import estates
from rights.estate_schemas import (
    DeceasedReport,
    EstateClaimCreate,
    EstateClaimPublic,
    EstateDecisionCreate,
)

router = APIRouter(prefix="/v1", tags=["estates"])


@router.post(
    "/likenesses/{asset_id}/estate-claims",
    status_code=status.HTTP_201_CREATED,
    response_model=EstateClaimPublic,
)
@raises(NotFound, Conflict)
def claim_estate(
    asset_id: uuid.UUID, body: EstateClaimCreate, applicant: VerifiedAccount, session: SessionDep
):
    """Report that this likeness's person has died and claim to act for their estate. From
    now on nobody may use the likeness; a moderator checks your evidence, and if they verify
    it, you set its policy and consent as its owner would."""
    return estates.claim_estate(
        session, applicant=applicant, asset_id=asset_id, evidence=body.evidence
    )


@router.post("/staff/likenesses/{asset_id}/deceased", status_code=status.HTTP_204_NO_CONTENT)
@raises(NotFound)
def report_deceased(
    asset_id: uuid.UUID, body: DeceasedReport, moderator: ModeratorAccount, session: SessionDep
):
    """Staff: this likeness is a deceased person's. Nobody may use it until an estate's
    authority is verified."""
    estates.report_deceased(session, reporter=moderator, asset_id=asset_id, note=body.note)


@router.get("/staff/estate-claims", response_model=list[EstateClaimPublic])
def list_estate_claims(moderator: ModeratorAccount, session: ReadSessionDep):
    """Staff: the claims waiting for a decision, oldest first."""
    return estates.pending_claims(session)


@router.post("/staff/estate-claims/{claim_id}/decision", response_model=EstateClaimPublic)
@raises(NotFound, Conflict, PartyToConflict)
def decide_estate_claim(
    claim_id: uuid.UUID,
    body: EstateDecisionCreate,
    moderator: ModeratorAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Staff: verify the estate's authority (consent given before is withdrawn, with
    receipts; the estate acts as the owner from now) or reject it."""
    decision = estates.decide_claim(
        session,
        moderator=moderator,
        claim_id=claim_id,
        verify=body.verify,
        note=body.note,
        person_is_living=body.person_is_living,
        settings=settings,
        keys=keys,
    )
    return decision.claim
