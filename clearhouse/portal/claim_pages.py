"""A holder's claim to a character or style, from its asset page: the evidence sent as a form
with an optional document, through the service behind PUT /v1/assets/{id}/claim.

The asset is the signed-in holder's (``rights.repository``): another holder's is a 404 page.
The form is read with the route's own limits (one file, four fields) and its CSRF token
checked before anything is stored.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from clearhouse.accounts.dependencies import require_verified
from clearhouse.deps import SessionDep
from clearhouse.errors import ClearhouseError
from clearhouse.portal.asset_pages import render_asset_page
from clearhouse.portal.document_forms import DocumentForm, document_form
from clearhouse.portal.pages import NOTICES, PageRoute, field_errors, see_other
from clearhouse.portal.sessions import PAGE_NEW_LINK, PortalHolder
from rights import repository
from rights.claims import service
from rights.claims.schemas import ClaimEvidence
from rights.models import Asset

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: The claim form takes a document: the body limit of uploads applies (clearhouse/app.py).
UPLOAD_ROUTES = (("POST", "/assets/{asset_id}/claim"),)

NOTICES.update(
    {
        "claim-submitted": "Your evidence is sent. Staff will verify it; until then this asset "
        "protects but its earnings are held."
    }
)

FIELDS = ("evidence_kind", "reference", "statement")


ClaimForm = Annotated[DocumentForm, Depends(document_form(FIELDS))]


def _asset_to_claim(asset_id: uuid.UUID, account: PortalHolder, session: SessionDep) -> Asset:
    """The holder's asset, looked up before the form's file is read."""
    return repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)


@router.post("/assets/{asset_id}/claim")
def submit_claim(
    request: Request,
    account: PortalHolder,
    asset: Annotated[Asset, Depends(_asset_to_claim)],
    form: ClaimForm,
    session: SessionDep,
):
    fields, document = form
    typed = {name: value.strip() for name, value in fields.items()}

    def refused(errors: dict[str, str]):
        return render_asset_page(
            request, account, session, asset, claim_errors=errors, claim_form=typed, status_code=400
        )

    try:
        evidence = ClaimEvidence(
            evidence_kind=typed.get("evidence_kind", ""),
            reference=typed.get("reference") or None,
            statement=typed.get("statement", ""),
        )
    except ValidationError as invalid:
        return refused(field_errors(invalid))
    try:
        require_verified(account, new_link=PAGE_NEW_LINK)
        service.submit_evidence(
            session, owner=account, asset=asset, evidence=evidence, document=document
        )
    except ClearhouseError as error:
        return refused({"form": error.detail})
    return see_other(f"/assets/{asset.id}", notice="claim-submitted")
