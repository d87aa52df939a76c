"""The inbox: the account's own notices, newest first, marked read one by one or all at once;
and how often they are emailed. The same service functions as ``GET /v1/notices``,
``POST /v1/notices/{id}/read`` and ``PUT /v1/notices/preferences``, scoped by the account."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request

from clearhouse.deps import ReadSessionDep, SessionDep
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalAccount
from notifications import service
from notifications.models import DigestFrequency
from notifications.schemas import NoticePublic, describe

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "notices-read": "Every notice is marked read.",
        "digest-chosen": "Saved: your notices are emailed as you chose.",
    }
)

#: The email choices, as the preferences page offers them.
DIGEST_CHOICES = {
    DigestFrequency.immediate: "As they come (within minutes, several in one email)",
    DigestFrequency.daily: "Once a day at most, all in one email",
    DigestFrequency.none: "Never: I read them here",
}


@router.get("/notices")
def inbox_page(
    request: Request,
    account: PortalAccount,
    session: ReadSessionDep,
    unread: str = "",
    page: Page = 1,
):
    rows, total = service.list_notices(
        session, account_id=account.id, unread_only=unread == "1", params=page_params(page)
    )
    return render(
        request,
        "notices/inbox.html",
        account=account,
        title="Inbox",
        notices=[(NoticePublic.of(row), describe(row.facts)) for row in rows],
        unread_only=unread == "1",
        pager=pager(request, page=page, total=total),
    )


@router.post("/notices/read", dependencies=[CsrfChecked])
def mark_all_read(account: PortalAccount, session: SessionDep):
    service.mark_all_read(session, account_id=account.id)
    return see_other("/notices", notice="notices-read")


@router.post("/notices/{notice_id}/read", dependencies=[CsrfChecked])
def mark_read(notice_id: uuid.UUID, account: PortalAccount, session: SessionDep):
    service.mark_read(session, account_id=account.id, notice_id=notice_id)
    return see_other("/notices")


@router.get("/notices/preferences")
def preferences_page(request: Request, account: PortalAccount, session: ReadSessionDep):
    return render(
        request,
        "notices/preferences.html",
        account=account,
        title="Notification email",
        preference=service.preference_of(session, account_id=account.id),
        choices=DIGEST_CHOICES,
    )


@router.post("/notices/preferences", dependencies=[CsrfChecked])
def choose_digest(
    account: PortalAccount,
    session: SessionDep,
    email_digest: Annotated[DigestFrequency, Form()],
):
    service.choose_digest(session, account_id=account.id, email_digest=email_digest)
    return see_other("/notices/preferences", notice="digest-chosen")
