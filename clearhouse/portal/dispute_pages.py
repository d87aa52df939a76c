"""Disputes in the portal: any signed-in account opens one (by the asset's public handle) and
follows its own; both parties read and write the thread, the holder answers; staff find them
in the review queue and decide them there.

Every page goes through ``rights.disputes.service`` as the API's /v1/disputes routes do: a
dispute the viewer is not a party to is a 404 page (staff see all), and a member of staff who
is a party cannot decide it here either (the decision form says so; a forced post is a 403).
The opening form takes a link or a document (PDF, PNG or JPEG), read with the API route's
limits (one file) and its CSRF token checked before anything is stored; a refused document is
shown beside the form, with what was typed kept.
"""

import uuid
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlmodel import Session

from clearhouse.accounts.models import Account
from clearhouse.deps import ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import ClearhouseError
from clearhouse.portal.decisions import decide_from_form
from clearhouse.portal.document_forms import DocumentForm, document_form
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, field_errors, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalAccount, PortalStaff, PortalVerified
from clearhouse.rate_limit import RateLimiterDep
from rights.claims.errors import UnusableEvidence
from rights.disputes import service
from rights.disputes.models import DisputeKind, DisputeStatus
from rights.disputes.schemas import DisputeDecision, DisputeOpening, DisputeWords
from rights.evidence import MAX_DOCUMENT_BYTES

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: The opening form takes a document: the body limit of uploads applies (clearhouse/app.py).
UPLOAD_ROUTES = (("POST", "/disputes"),)

NOTICES.update(
    {
        "dispute-opened": "Your dispute is open. The holder is told and has until the date "
        "shown to answer; meanwhile the asset's earnings are held.",
        "dispute-answered": "Your answer is sent: staff decide next.",
        "dispute-message": "Your message is in the thread.",
        "dispute-upheld": "Upheld: the asset no longer licenses or earns; its held shares went "
        "back to the creators.",
        "dispute-dismissed": "Dismissed: the asset goes on as before.",
    }
)

KINDS = [
    (DisputeKind.improper_registration.value, "Improper registration: it is not theirs"),
    (DisputeKind.improper_use.value, "Improper use: it is licensed for what it may not be"),
    (DisputeKind.content_standards.value, "A breach of the content standards"),
]
OPENING_FIELDS = ("asset_handle", "kind", "statement", "link")
FILTERS = [
    ("open", "Open"),
    ("answered", "Answered"),
    ("upheld", "Upheld"),
    ("dismissed", "Dismissed"),
    ("all", "All"),
]


def _list_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    page: int = 1,
    form: dict | None = None,
    errors: dict | None = None,
    status_code: int = 200,
):
    rows, total = service.visible_disputes(
        session,
        viewer=account,
        status=None,
        asset_id=None,
        everyone=False,
        params=page_params(page),
    )
    return render(
        request,
        "disputes/list.html",
        account=account,
        title="Disputes",
        status_code=status_code,
        disputes=rows,
        kinds=KINDS,
        form=form or {"kind": ""},
        errors=errors or {},
        max_document_bytes=MAX_DOCUMENT_BYTES,
        pager=pager(request, page=page, total=total),
    )


@router.get("/disputes")
def dispute_list(request: Request, account: PortalAccount, session: ReadSessionDep, page: Page = 1):
    return _list_page(request, session, account, page=page)


OpeningForm = Annotated[DocumentForm, Depends(document_form(OPENING_FIELDS))]


@router.post("/disputes")
def open_dispute(
    request: Request,
    account: PortalVerified,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    opening_form: OpeningForm,
):
    fields, document = opening_form
    form = {name: fields.get(name, "") for name in OPENING_FIELDS}

    def refused(errors: dict[str, str], status_code: int):
        return _list_page(
            request, session, account, form=form, errors=errors, status_code=status_code
        )

    try:
        opening = DisputeOpening(
            asset_handle=form["asset_handle"].strip(),
            kind=form["kind"],
            statement=form["statement"].strip(),
            link=form["link"].strip() or None,
        )
        limiter.limit_disputes(account_id=account.id)
        view = service.open_dispute(
            session,
            opener=account,
            opening=opening,
            document=document,
            answer_days=settings.dispute_answer_days,
        )
    except ValidationError as invalid:
        return refused(field_errors(invalid), 400)
    except UnusableEvidence as unusable:
        return refused(
            {"document": f"{unusable.detail} Choose the file again: a page cannot keep it."},
            unusable.status_code,
        )
    except ClearhouseError as error:
        return refused({"form": error.detail}, error.status_code)
    return see_other(f"/disputes/{view.dispute.id}", notice="dispute-opened")


def _dispute_page(
    request: Request,
    session: Session,
    account: Account,
    dispute_id: uuid.UUID,
    *,
    status_code: int = 200,
    form: dict | None = None,
    errors: dict | None = None,
):
    view = service.visible_dispute(session, viewer=account, dispute_id=dispute_id)
    return render(
        request,
        "disputes/dispute.html",
        account=account,
        title=f"Dispute about @{view.asset.handle}",
        status_code=status_code,
        view=view,
        overdue=service.answer_overdue(view.dispute),
        kinds=dict(KINDS),
        form=form or {},
        errors=errors or {},
    )


@router.get("/disputes/{dispute_id}")
def dispute_page(
    request: Request, dispute_id: uuid.UUID, account: PortalAccount, session: ReadSessionDep
):
    return _dispute_page(request, session, account, dispute_id)


@router.post("/disputes/{dispute_id}/{step}", dependencies=[CsrfChecked])
def write_in_thread(
    request: Request,
    dispute_id: uuid.UUID,
    step: Literal["answer", "message"],
    account: PortalVerified,
    session: SessionDep,
    body: Annotated[str, Form(max_length=5000)] = "",
):
    """The holder's answer, or a message, as the API's routes take them."""
    try:
        words = DisputeWords(body=body.strip())
        if step == "answer":
            service.answer_dispute(session, holder=account, dispute_id=dispute_id, body=words.body)
        else:
            service.write_message(session, author=account, dispute_id=dispute_id, body=words.body)
    except ValidationError as invalid:
        return _dispute_page(
            request,
            session,
            account,
            dispute_id,
            status_code=400,
            form={"body": body},
            errors=field_errors(invalid),
        )
    except ClearhouseError as refused:
        if refused.status_code == 404:
            raise
        return _dispute_page(
            request,
            session,
            account,
            dispute_id,
            status_code=refused.status_code,
            form={"body": body},
            errors={"form": refused.detail},
        )
    return see_other(
        f"/disputes/{dispute_id}",
        notice="dispute-answered" if step == "answer" else "dispute-message",
    )


@router.get("/review/disputes")
def dispute_queue(
    request: Request,
    staff: PortalStaff,
    session: ReadSessionDep,
    show: Literal["open", "answered", "upheld", "dismissed", "all"] = "answered",
    page: Page = 1,
):
    rows, total = service.visible_disputes(
        session,
        viewer=staff,
        status=None if show == "all" else DisputeStatus(show),
        asset_id=None,
        everyone=True,
        params=page_params(page),
    )
    return render(
        request,
        "review/disputes.html",
        account=staff,
        title="Disputes",
        disputes=rows,
        show=show,
        filters=FILTERS,
        pager=pager(request, page=page, total=total),
    )


@router.post("/review/disputes/{dispute_id}/decide", dependencies=[CsrfChecked])
def decide_dispute(
    request: Request,
    dispute_id: uuid.UUID,
    staff: PortalStaff,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
):
    """Uphold or dismiss, as POST /v1/disputes/{id}/decision does."""

    def uphold_or_dismiss(body: DisputeDecision) -> str:
        view = service.decide_dispute(
            session,
            staff=staff,
            dispute_id=dispute_id,
            uphold=body.decision == "uphold",
            reason=body.reason,
        )
        return f"dispute-{view.dispute.status.value}"

    return decide_from_form(
        form={"decision": decision, "reason": reason},
        body=lambda: DisputeDecision(decision=decision, reason=reason.strip()),
        choose="Choose whether to uphold or to dismiss the dispute.",
        decide=uphold_or_dismiss,
        page=partial(_dispute_page, request, session, staff, dispute_id),
        redirect=f"/disputes/{dispute_id}",
    )
