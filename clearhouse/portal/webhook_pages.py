"""Webhook endpoints: register one (its secret shown once), its delivery log, replaying a
delivery, disabling and enabling, rotating the secret, deleting. The same service functions
as the ``/v1/webhooks/endpoints`` routes; another account's endpoint is a 404 page."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request

from clearhouse.deps import ReadSessionDep, SessionDep, SettingsDep
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalAccount
from notifications import endpoints
from notifications.errors import EndpointLimitReached, EndpointRefused
from notifications.kinds import NoticeKind
from notifications.schemas import EndpointWithSecret

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "endpoint-enabled": "Enabled. Deliveries that waited go now, in order.",
        "endpoint-disabled": "Disabled. Deliveries wait until you enable it again.",
        "endpoint-deleted": "Endpoint deleted; nothing more is sent to it.",
        "delivery-replayed": "The delivery is sent again, within moments.",
    }
)

Url = Annotated[str, Form(max_length=2000)]
Kinds = Annotated[list[NoticeKind], Form()]


@router.get("/webhooks")
def endpoints_page(
    request: Request, account: PortalAccount, session: ReadSessionDep, page: Page = 1
):
    return _list(request, account=account, session=session, page=page)


@router.post("/webhooks", dependencies=[CsrfChecked])
def create_endpoint(
    request: Request,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    url: Url,
    kinds: Kinds = (),
):
    try:
        created = endpoints.create_endpoint(
            session, account=account, url=url.strip(), kinds=kinds, settings=settings
        )
    except (EndpointRefused, EndpointLimitReached) as refused:
        return _list(
            request,
            account=account,
            session=session,
            page=1,
            error=refused.detail,
            url=url,
            status_code=refused.status_code,
        )
    return _secret_page(request, account=account, endpoint=created, made=True)


@router.get("/webhooks/{endpoint_id}")
def endpoint_page(
    request: Request,
    endpoint_id: uuid.UUID,
    account: PortalAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    page: Page = 1,
):
    endpoint = endpoints.own_endpoint(session, account_id=account.id, endpoint_id=endpoint_id)
    deliveries, total = endpoints.list_deliveries(
        session, account_id=account.id, endpoint_id=endpoint_id, params=page_params(page)
    )
    return render(
        request,
        "webhooks/endpoint.html",
        account=account,
        title=f"Webhook endpoint {endpoint.url}",
        endpoint=endpoints.endpoint_public(endpoint),
        overlap_hours=settings.webhook_secret_overlap_hours,
        deliveries=deliveries,
        pager=pager(request, page=page, total=total),
    )


@router.post("/webhooks/{endpoint_id}/enabled", dependencies=[CsrfChecked])
def set_enabled(
    endpoint_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    enabled: Annotated[bool, Form()],
):
    endpoints.update_endpoint(
        session,
        account_id=account.id,
        endpoint_id=endpoint_id,
        url=None,
        kinds=None,
        enabled=enabled,
        settings=settings,
    )
    return see_other(
        f"/webhooks/{endpoint_id}", notice="endpoint-enabled" if enabled else "endpoint-disabled"
    )


@router.post("/webhooks/{endpoint_id}/secret", dependencies=[CsrfChecked])
def rotate_secret(
    request: Request,
    endpoint_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    overlap_hours: Annotated[float | None, Form(ge=0, le=24 * 30)] = None,
):
    rotated = endpoints.rotate_secret(
        session,
        account_id=account.id,
        endpoint_id=endpoint_id,
        overlap=None if overlap_hours is None else timedelta(hours=overlap_hours),
        settings=settings,
    )
    return _secret_page(request, account=account, endpoint=rotated, made=False)


@router.post("/webhooks/{endpoint_id}/delete", dependencies=[CsrfChecked])
def delete_endpoint(endpoint_id: uuid.UUID, account: PortalAccount, session: SessionDep):
    endpoints.delete_endpoint(session, account_id=account.id, endpoint_id=endpoint_id)
    return see_other("/webhooks", notice="endpoint-deleted")


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", dependencies=[CsrfChecked])
def replay_delivery(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, account: PortalAccount, session: SessionDep
):
    endpoints.replay_delivery(
        session, account_id=account.id, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return see_other(f"/webhooks/{endpoint_id}", notice="delivery-replayed")


def _list(request: Request, *, account, session, page: int, status_code: int = 200, **form):
    rows, total = endpoints.list_endpoints(session, account_id=account.id, params=page_params(page))
    return render(
        request,
        "webhooks/list.html",
        account=account,
        title="Webhooks",
        status_code=status_code,
        endpoints=[endpoints.endpoint_public(row) for row in rows],
        kinds=list(NoticeKind),
        pager=pager(request, page=page, total=total),
        form={"error": None, "url": "", **form},
    )


def _secret_page(request: Request, *, account, endpoint: EndpointWithSecret, made: bool):
    return render(
        request,
        "webhooks/secret.html",
        account=account,
        title="Your endpoint's secret",
        endpoint=endpoint,
        made=made,
    )
