"""Routes of disputes: any account with a verified email address opens one about a live
asset; its parties read and write its thread (verified too: each word reaches the other
party), the holder answers; staff decide. Nobody else learns it exists (404)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from clearhouse.accounts.dependencies import VerifiedAccount
from clearhouse.deps import (
    CurrentAccount,
    ModeratorAccount,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from clearhouse.rate_limit import RateLimited, RateLimiterDep, RateLimiterUnavailable
from clearhouse.uploads import json_with_files_request_body, json_with_files_route, uploaded_files
from rights.claims.errors import UnusableEvidence
from rights.disputes import service
from rights.disputes.errors import (
    DisputeClosed,
    NotDecidable,
    NotYourAnswer,
    OwnAsset,
    PartyToDispute,
)
from rights.disputes.models import DisputeStatus
from rights.disputes.presentation import dispute_public
from rights.disputes.schemas import DisputeDecision, DisputeOpening, DisputePublic, DisputeWords
from rights.evidence import document_download

router = APIRouter(prefix="/v1", tags=["disputes"])

#: The route whose body may carry a document, for the body size limit.
UPLOAD_ROUTES = (("POST", "/v1/disputes"),)


def document_response(view: service.DisputeView) -> Response:
    if view.document is None:
        raise NotFound("This dispute has no document.")
    return document_download(view.document, filename=f"dispute-{view.dispute.id}-evidence")


@raises(NotFound, OwnAsset, UnusableEvidence, RateLimited, RateLimiterUnavailable)
def open_dispute(
    body: DisputeOpening,
    files: Annotated[list[bytes], Depends(uploaded_files)],
    opener: VerifiedAccount,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
) -> DisputePublic:
    """Dispute a live asset you do not hold: an improper registration, an improper use, or a
    breach of the content standards, with your statement and an https:// link or a document
    (PDF, PNG or JPEG, up to 5 MiB; send a multipart form with this JSON as `opening` and the
    file as `document`). Its holder has `dispute_answer_days` to answer; meanwhile its new
    uses' earnings are held. Only you, its holder and staff see the dispute. Limited per
    account within an hour (429, Retry-After)."""
    limiter.limit_disputes(account_id=opener.id)
    view = service.open_dispute(
        session,
        opener=opener,
        opening=body,
        document=files[0] if files else None,
        answer_days=settings.dispute_answer_days,
    )
    return dispute_public(view)


router.add_api_route(
    "/disputes",
    open_dispute,
    methods=["POST"],
    status_code=201,
    response_model=DisputePublic,
    route_class_override=json_with_files_route(
        json_field="opening",
        files_field="document",
        max_files=1,
        files_are="document (a PDF, PNG or JPEG)",
    ),
    openapi_extra=json_with_files_request_body(
        model="DisputeOpening",
        json_field="opening",
        files_field="document",
        max_files=1,
        description="The evidence document: a PDF, PNG or JPEG of at most 5 MiB.",
    ),
)


@router.get("/disputes", response_model=Page[DisputePublic])
def list_disputes(
    viewer: CurrentAccount,
    session: ReadSessionDep,
    paging: Paging,
    dispute_status: Annotated[
        DisputeStatus | None, Query(alias="status", description="Only in this status.")
    ] = None,
    asset_id: Annotated[uuid.UUID | None, Query(description="Only about this asset.")] = None,
):
    """The disputes you opened and those about assets you hold, the oldest first."""
    rows, total = service.visible_disputes(
        session,
        viewer=viewer,
        status=dispute_status,
        asset_id=asset_id,
        everyone=False,
        params=paging,
    )
    return Page(
        items=[
            dispute_public(service.visible_dispute(session, viewer=viewer, dispute_id=dispute.id))
            for dispute, _ in rows
        ],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/disputes/queue", response_model=Page[DisputePublic])
def dispute_queue(
    staff: ModeratorAccount,
    session: ReadSessionDep,
    paging: Paging,
    dispute_status: Annotated[
        DisputeStatus | None, Query(alias="status", description="Only in this status.")
    ] = None,
):
    """Staff: every dispute, the oldest first."""
    rows, total = service.visible_disputes(
        session, viewer=staff, status=dispute_status, asset_id=None, everyone=True, params=paging
    )
    return Page(
        items=[
            dispute_public(service.visible_dispute(session, viewer=staff, dispute_id=dispute.id))
            for dispute, _ in rows
        ],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/disputes/{dispute_id}", response_model=DisputePublic)
@raises(NotFound)
def read_dispute(dispute_id: uuid.UUID, viewer: CurrentAccount, session: ReadSessionDep):
    """A dispute you are a party to (or, staff, any), with its thread."""
    return dispute_public(service.visible_dispute(session, viewer=viewer, dispute_id=dispute_id))


@router.get("/disputes/{dispute_id}/document", response_class=Response)
@raises(NotFound)
def read_dispute_document(dispute_id: uuid.UUID, viewer: CurrentAccount, session: ReadSessionDep):
    """The dispute's evidence document."""
    return document_response(service.visible_dispute(session, viewer=viewer, dispute_id=dispute_id))


@router.post("/disputes/{dispute_id}/answer", response_model=DisputePublic)
@raises(NotFound, NotYourAnswer, DisputeClosed)
def answer_dispute(
    dispute_id: uuid.UUID, body: DisputeWords, holder: VerifiedAccount, session: SessionDep
):
    """The holder's answer, before `answer_due_at`; then staff decide."""
    view = service.answer_dispute(session, holder=holder, dispute_id=dispute_id, body=body.body)
    return dispute_public(view)


@router.post("/disputes/{dispute_id}/messages", response_model=DisputePublic)
@raises(NotFound, DisputeClosed)
def write_message(
    dispute_id: uuid.UUID, body: DisputeWords, author: VerifiedAccount, session: SessionDep
):
    """A message in the thread of an undecided dispute: both parties and staff read it."""
    view = service.write_message(session, author=author, dispute_id=dispute_id, body=body.body)
    return dispute_public(view)


@router.post("/disputes/{dispute_id}/decision", response_model=DisputePublic)
@raises(NotFound, PartyToDispute, NotDecidable, DisputeClosed)
def decide_dispute(
    dispute_id: uuid.UUID, body: DisputeDecision, staff: ModeratorAccount, session: SessionDep
):
    """Staff: uphold or dismiss an answered dispute, or an open one whose answer is overdue.
    Upheld: the asset stops licensing and earning (its matches deny) and its held shares go
    back to the creators. Nobody decides a dispute they are a party to; audited."""
    view = service.decide_dispute(
        session,
        staff=staff,
        dispute_id=dispute_id,
        uphold=body.decision == "uphold",
        reason=body.reason,
    )
    return dispute_public(view)
