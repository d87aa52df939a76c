"""Routes of claims: an owner submits and reads the evidence of their claim to a character
or style; staff list the claims, read their evidence and verify or reject them."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response

from clearhouse.accounts.dependencies import VerifiedHolderAccount
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import ModeratorAccount, ReadSessionDep, SessionDep
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from clearhouse.uploads import (
    json_with_files_request_body,
    json_with_files_route,
    uploaded_files,
)
from rights.claims import service
from rights.claims.errors import (
    ClaimAlreadyDecided,
    ClaimAlreadyVerified,
    NotClaimable,
    PartyToClaim,
    UnusableEvidence,
)
from rights.claims.models import ClaimStatus
from rights.claims.presentation import claim_public, claim_status_public
from rights.claims.schemas import (
    ClaimDecision,
    ClaimEvidence,
    ClaimPublic,
    ClaimStatusPublic,
)
from rights.dependencies import OwnedAsset, OwnedAssetToChange
from rights.evidence import document_download

router = APIRouter(prefix="/v1")

#: The route whose body may carry a document, for the body size limit.
UPLOAD_ROUTES = (("PUT", "/v1/assets/{asset_id}/claim"),)


def document_response(view: service.ClaimView | None) -> Response:
    if view is None or view.document is None:
        raise NotFound("This claim has no document.")
    return document_download(view.document, filename=f"claim-{view.claim.id}-evidence")


@raises(NotClaimable, ClaimAlreadyVerified, UnusableEvidence)
@needs_scope(Scope.assets_write)
def submit_claim(
    body: ClaimEvidence,
    files: Annotated[list[bytes], Depends(uploaded_files)],
    owner: VerifiedHolderAccount,
    asset: OwnedAssetToChange,
    session: SessionDep,
) -> ClaimStatusPublic:
    """Submit, or replace, the evidence of your right to a character or style: a trademark
    or copyright registration number, an https:// link, or a document (PDF, PNG or JPEG, up
    to 5 MiB; send a multipart form with this JSON as `evidence` and the file as `document`).
    It waits for staff. Until they verify it the asset protects (its matches deny others) but
    earns nothing: its share of each licence is held, and paid in when verified or given back
    to the creators when rejected. A likeness needs no claim: its enrolment verified it."""
    view = service.submit_evidence(
        session, owner=owner, asset=asset, evidence=body, document=files[0] if files else None
    )
    return ClaimStatusPublic(
        asset_id=asset.id, standing=view.claim.status.value, claim=claim_public(view)
    )


router.add_api_route(
    "/assets/{asset_id}/claim",
    submit_claim,
    methods=["PUT"],
    response_model=ClaimStatusPublic,
    tags=["claims"],
    route_class_override=json_with_files_route(
        json_field="evidence",
        files_field="document",
        max_files=1,
        files_are="document (a PDF, PNG or JPEG)",
    ),
    openapi_extra=json_with_files_request_body(
        model="ClaimEvidence",
        json_field="evidence",
        files_field="document",
        max_files=1,
        description="The evidence document: a PDF, PNG or JPEG of at most 5 MiB.",
    ),
)


@router.get("/assets/{asset_id}/claim", response_model=ClaimStatusPublic, tags=["claims"])
@needs_scope(Scope.assets_read)
def read_claim(asset: OwnedAsset, session: ReadSessionDep):
    """Where your asset's claim stands, and its evidence."""
    return claim_status_public(session, asset)


@router.get("/assets/{asset_id}/claim/document", response_class=Response, tags=["claims"])
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_claim_document(asset: OwnedAsset, session: ReadSessionDep):
    """The evidence document you sent."""
    return document_response(service.owned_claim(session, asset=asset))


@router.get("/claims", response_model=Page[ClaimPublic], tags=["claims"])
def list_claims(
    staff: ModeratorAccount,
    session: ReadSessionDep,
    paging: Paging,
    claim_status: Annotated[
        ClaimStatus | None,
        Query(alias="status", description="Only in this status (default: pending)."),
    ] = ClaimStatus.pending,
):
    """Staff: the claims waiting for a decision, the longest waiting first."""
    views, total = service.claims_for_staff(session, status=claim_status, params=paging)
    return Page(
        items=[claim_public(view) for view in views],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/claims/{claim_id}", response_model=ClaimPublic, tags=["claims"])
@raises(NotFound)
def read_claim_for_staff(claim_id: uuid.UUID, staff: ModeratorAccount, session: ReadSessionDep):
    """Staff: one claim and its evidence."""
    return claim_public(service.claim_for_staff(session, claim_id=claim_id))


@router.get("/claims/{claim_id}/document", response_class=Response, tags=["claims"])
@raises(NotFound)
def read_claim_document_for_staff(
    claim_id: uuid.UUID, staff: ModeratorAccount, session: ReadSessionDep
):
    """Staff: the claim's evidence document."""
    return document_response(service.claim_for_staff(session, claim_id=claim_id))


@router.post(
    "/claims/{claim_id}/decision",
    response_model=ClaimPublic,
    status_code=status.HTTP_200_OK,
    tags=["claims"],
)
@raises(NotFound, PartyToClaim, ClaimAlreadyDecided)
def decide_claim(
    claim_id: uuid.UUID, body: ClaimDecision, staff: ModeratorAccount, session: SessionDep
):
    """Staff: verify or reject a pending claim, with the reason. Verified: the asset's held
    shares are paid into its holder's payable (one entry). Rejected: each held share goes back
    to the creator it came from. Nobody decides their own claim; the decision is audited."""
    view = service.decide_claim(
        session,
        staff=staff,
        claim_id=claim_id,
        verify=body.decision == "verify",
        reason=body.reason,
    )
    return claim_public(view)
