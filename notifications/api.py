"""Routes of notifications: the account's own notices and email preference, its webhook
endpoints, their delivery logs and replays. Another account's notice, endpoint or delivery is
not found (404). Webhook endpoints are changed signed in only, never with an API key: making
one or rotating its secret shows a secret, as making an API key does; keys with `account_read`
may read them and their delivery logs (no secret is ever read back)."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import CurrentAccount, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from clearhouse.schemas import QueryFlag
from notifications import endpoints, service
from notifications.errors import EndpointLimitReached, EndpointRefused
from notifications.schemas import (
    DeliveryPublic,
    EndpointCreate,
    EndpointPublic,
    EndpointUpdate,
    EndpointWithSecret,
    MarkedRead,
    NoticePublic,
    PreferencePublic,
    PreferenceUpdate,
    SecretRotation,
    UnreadCount,
)

router = APIRouter(prefix="/v1")


@router.get("/notices", response_model=Page[NoticePublic], tags=["notices"])
@needs_scope(Scope.account_read)
def list_notices(
    account: CurrentAccount,
    session: ReadSessionDep,
    paging: Paging,
    unread: Annotated[QueryFlag, Query(description="Only the notices not read yet.")] = False,
):
    """What you were told: uses, blocks, requests waiting for you, withdrawals' effects, and
    more; newest first."""
    items, total = service.list_notices(
        session, account_id=account.id, unread_only=unread, params=paging
    )
    return Page(
        items=[NoticePublic.of(item) for item in items],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/notices/unread", response_model=UnreadCount, tags=["notices"])
@needs_scope(Scope.account_read)
def count_unread(account: CurrentAccount, session: ReadSessionDep):
    return UnreadCount(unread=service.unread_count(session, account_id=account.id))


@router.post("/notices/{notice_id}/read", response_model=NoticePublic, tags=["notices"])
@raises(NotFound)
@needs_scope(Scope.account_read)
def mark_read(notice_id: uuid.UUID, account: CurrentAccount, session: SessionDep):
    return NoticePublic.of(service.mark_read(session, account_id=account.id, notice_id=notice_id))


@router.post("/notices/read", response_model=MarkedRead, tags=["notices"])
@needs_scope(Scope.account_read)
def mark_all_read(account: CurrentAccount, session: SessionDep):
    return MarkedRead(marked=service.mark_all_read(session, account_id=account.id))


@router.get("/notices/preferences", response_model=PreferencePublic, tags=["notices"])
@needs_scope(Scope.account_read)
def read_preferences(account: CurrentAccount, session: ReadSessionDep):
    preference = service.preference_of(session, account_id=account.id)
    return PreferencePublic.model_validate(preference, from_attributes=True)


@router.put("/notices/preferences", response_model=PreferencePublic, tags=["notices"])
def choose_preferences(body: PreferenceUpdate, account: CurrentAccount, session: SessionDep):
    """How often your unread notices are emailed to you."""
    preference = service.choose_digest(
        session, account_id=account.id, email_digest=body.email_digest
    )
    return PreferencePublic.model_validate(preference, from_attributes=True)


@router.post(
    "/webhooks/endpoints",
    response_model=EndpointWithSecret,
    status_code=status.HTTP_201_CREATED,
    tags=["webhooks"],
)
@raises(EndpointRefused, EndpointLimitReached)
def create_endpoint(
    body: EndpointCreate, account: CurrentAccount, session: SessionDep, settings: SettingsDep
):
    """Have your notices POSTed to a URL, signed as Standard Webhooks says. The secret that
    verifies them is in this answer only; keep it."""
    return endpoints.create_endpoint(
        session, account=account, url=body.url, kinds=body.kinds, settings=settings
    )


@router.get("/webhooks/endpoints", response_model=Page[EndpointPublic], tags=["webhooks"])
@needs_scope(Scope.account_read)
def list_endpoints(account: CurrentAccount, session: ReadSessionDep, paging: Paging):
    items, total = endpoints.list_endpoints(session, account_id=account.id, params=paging)
    return Page(
        items=[endpoints.endpoint_public(item) for item in items],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/webhooks/endpoints/{endpoint_id}", response_model=EndpointPublic, tags=["webhooks"])
@raises(NotFound)
@needs_scope(Scope.account_read)
def read_endpoint(endpoint_id: uuid.UUID, account: CurrentAccount, session: ReadSessionDep):
    return endpoints.endpoint_public(
        endpoints.own_endpoint(session, account_id=account.id, endpoint_id=endpoint_id)
    )


@router.patch("/webhooks/endpoints/{endpoint_id}", response_model=EndpointPublic, tags=["webhooks"])
@raises(NotFound, EndpointRefused)
def update_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
):
    """Change the URL or the kinds, or disable and enable it (enabling sends what waited)."""
    return endpoints.endpoint_public(
        endpoints.update_endpoint(
            session,
            account_id=account.id,
            endpoint_id=endpoint_id,
            url=body.url,
            kinds=body.kinds,
            enabled=body.enabled,
            settings=settings,
        )
    )


@router.post(
    "/webhooks/endpoints/{endpoint_id}/secret",
    response_model=EndpointWithSecret,
    tags=["webhooks"],
)
@raises(NotFound)
def rotate_secret(
    endpoint_id: uuid.UUID,
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    body: SecretRotation | None = None,
):
    """A new secret, shown this once. The old one goes on signing beside it for the overlap
    (24 h unless you say otherwise): each delivery then carries both signatures, so your
    receiver can switch to the new secret without losing one."""
    overlap = body.overlap_hours if body is not None else None
    return endpoints.rotate_secret(
        session,
        account_id=account.id,
        endpoint_id=endpoint_id,
        overlap=None if overlap is None else timedelta(hours=overlap),
        settings=settings,
    )


@router.delete(
    "/webhooks/endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["webhooks"],
)
@raises(NotFound)
def delete_endpoint(endpoint_id: uuid.UUID, account: CurrentAccount, session: SessionDep):
    endpoints.delete_endpoint(session, account_id=account.id, endpoint_id=endpoint_id)


@router.get(
    "/webhooks/endpoints/{endpoint_id}/deliveries",
    response_model=Page[DeliveryPublic],
    tags=["webhooks"],
)
@raises(NotFound)
@needs_scope(Scope.account_read)
def list_deliveries(
    endpoint_id: uuid.UUID, account: CurrentAccount, session: ReadSessionDep, paging: Paging
):
    """The endpoint's delivery log, newest first: state, attempts, the last answer."""
    items, total = endpoints.list_deliveries(
        session, account_id=account.id, endpoint_id=endpoint_id, params=paging
    )
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.post(
    "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryPublic,
    tags=["webhooks"],
)
@raises(NotFound)
def replay_delivery(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, account: CurrentAccount, session: SessionDep
):
    """Send this delivery again now, the same message (its `webhook-id` too), signed anew."""
    return endpoints.replay_delivery(
        session, account_id=account.id, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
