"""An account's webhook endpoints: registered, changed, their secret rotated, deleted, their
delivery log read and a delivery replayed. Every query is scoped by the account inside, so
another account's endpoint or delivery is simply not found. Secrets are kept sealed
(clearhouse/sealed_secrets.py) and opened only to sign or to be shown once."""

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.accounts.service import lock_signed_in_account
from clearhouse.db import after_commit, new_id, utcnow
from clearhouse.errors import NotFound
from clearhouse.ownership import owned
from clearhouse.pagination import PageParams, paginate
from clearhouse.sealed_secrets import secret_sealer
from clearhouse.settings import Settings
from notifications.addresses import check_endpoint_url
from notifications.errors import EndpointLimitReached
from notifications.kinds import NoticeKind
from notifications.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from notifications.schemas import DeliveryPublic, EndpointPublic, EndpointWithSecret
from notifications.service import notices_written

_NOT_FOUND = "You have no webhook endpoint with this id."
# Each notice goes to every endpoint of its account, each failure retried: the limit bounds
# what one event of an account makes this server send (Stripe's own limit is 16 as well).
MAX_ENDPOINTS = 16
_PURPOSE = "webhook secret"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_endpoint(
    session: Session,
    *,
    account: Account,
    url: str,
    kinds: Sequence[NoticeKind],
    settings: Settings,
) -> EndpointWithSecret:
    check_endpoint_url(url, allow_private=settings.webhook_allow_private_addresses)
    # The account's row, locked: its creations are counted one after the other, so two at once
    # cannot both take the last place; and none lands after its address was taken.
    lock_signed_in_account(session, account=account)
    held = session.exec(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.account_id == account.id)
    ).one()
    if held >= MAX_ENDPOINTS:
        raise EndpointLimitReached(
            f"You have {held} webhook endpoints, the most an account may have: delete one you "
            "no longer use, or send more kinds to one (its `kinds`)."
        )
    endpoint_id = new_id()
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        account_id=account.id,
        url=url,
        kinds=sorted({kind.value for kind in kinds}),
        sealed_secret=_seal(secret, endpoint_id=endpoint_id, settings=settings),
    )
    session.add(endpoint)
    _audit(session, action="webhook.endpoint_created", endpoint=endpoint)
    session.flush()
    return with_secret(endpoint, secret=secret)


def list_endpoints(
    session: Session, *, account_id: uuid.UUID, params: PageParams
) -> tuple[list[WebhookEndpoint], int]:
    return paginate(
        session,
        select(WebhookEndpoint)
        .where(WebhookEndpoint.account_id == account_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id),
        params,
    )


def own_endpoint(
    session: Session, *, account_id: uuid.UUID, endpoint_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint:
    return owned(
        session,
        WebhookEndpoint,
        endpoint_id,
        owner_column=WebhookEndpoint.account_id,
        owner_id=account_id,
        not_found=NotFound(_NOT_FOUND),
        for_update=for_update,
    )


def update_endpoint(
    session: Session,
    *,
    account_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    url: str | None,
    kinds: Sequence[NoticeKind] | None,
    enabled: bool | None,
    settings: Settings,
) -> WebhookEndpoint:
    endpoint = own_endpoint(
        session, account_id=account_id, endpoint_id=endpoint_id, for_update=True
    )
    if url is not None:
        check_endpoint_url(url, allow_private=settings.webhook_allow_private_addresses)
        endpoint.url = url
    if kinds is not None:
        endpoint.kinds = sorted({kind.value for kind in kinds})
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_reason = None if enabled else "Disabled by its owner."
        endpoint.consecutive_failures = 0
        _audit(
            session,
            action="webhook.endpoint_enabled" if enabled else "webhook.endpoint_disabled",
            endpoint=endpoint,
        )
    session.add(endpoint)
    return endpoint


def rotate_secret(
    session: Session,
    *,
    account_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    overlap: timedelta | None,
    settings: Settings,
) -> EndpointWithSecret:
    """A new secret. The old one goes on signing beside it for ``overlap`` (the settings' default
    when None; zero: it stops at once), so the receiver can switch without losing a delivery;
    a secret older than that stops at once."""
    endpoint = own_endpoint(
        session, account_id=account_id, endpoint_id=endpoint_id, for_update=True
    )
    if overlap is None:
        overlap = timedelta(hours=settings.webhook_secret_overlap_hours)
    secret = new_secret()
    endpoint.sealed_previous_secret = endpoint.sealed_secret if overlap else None
    endpoint.previous_secret_until = utcnow() + overlap if overlap else None
    endpoint.sealed_secret = _seal(secret, endpoint_id=endpoint.id, settings=settings)
    session.add(endpoint)
    _audit(
        session,
        action="webhook.secret_rotated",
        endpoint=endpoint,
        previous_secret_until=(
            endpoint.previous_secret_until.isoformat() if endpoint.previous_secret_until else None
        ),
    )
    return with_secret(endpoint, secret=secret)


def signing_secrets(endpoint: WebhookEndpoint, *, settings: Settings, at: datetime) -> list[str]:
    """The secrets that sign a delivery sent ``at``: the current one, and while the last
    rotation's overlap lasts, the one before it."""
    sealer = secret_sealer(settings)
    secrets_now = [sealer.open(endpoint.sealed_secret, purpose=_PURPOSE, row_id=endpoint.id)]
    if endpoint.sealed_previous_secret is not None and _overlapping(endpoint, at=at):
        secrets_now.append(
            sealer.open(endpoint.sealed_previous_secret, purpose=_PURPOSE, row_id=endpoint.id)
        )
    return secrets_now


def _overlapping(endpoint: WebhookEndpoint, *, at: datetime) -> bool:
    return endpoint.previous_secret_until is not None and at < endpoint.previous_secret_until


def _seal(secret: str, *, endpoint_id: uuid.UUID, settings: Settings) -> bytes:
    return secret_sealer(settings).seal(secret, purpose=_PURPOSE, row_id=endpoint_id)


def delete_endpoint(session: Session, *, account_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    endpoint = own_endpoint(
        session, account_id=account_id, endpoint_id=endpoint_id, for_update=True
    )
    _audit(session, action="webhook.endpoint_deleted", endpoint=endpoint)
    session.delete(endpoint)


def list_deliveries(
    session: Session,
    *,
    account_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[DeliveryPublic], int]:
    """The endpoint's delivery log, newest first."""
    own_endpoint(session, account_id=account_id, endpoint_id=endpoint_id)
    rows, total = paginate(
        session,
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc()),
        params,
    )
    return [delivery_public(row) for row in rows], total


def replay_delivery(
    session: Session, *, account_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryPublic:
    """Send a delivery again, as it was (the same `webhook-id`, signed anew), now."""
    own_endpoint(session, account_id=account_id, endpoint_id=endpoint_id)
    delivery = session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
        .with_for_update()
    ).first()
    if delivery is None:
        raise NotFound("This endpoint has no delivery with this id.")
    delivery.state = DeliveryState.pending
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.claimed_until = None
    session.add(delivery)

    after_commit(session, notices_written.set)
    return delivery_public(delivery)


def with_secret(endpoint: WebhookEndpoint, *, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**endpoint_public(endpoint).model_dump(), secret=secret)


def endpoint_public(endpoint: WebhookEndpoint) -> EndpointPublic:
    public = EndpointPublic.model_validate(endpoint, from_attributes=True)
    if not _overlapping(endpoint, at=utcnow()):
        public.previous_secret_until = None
    return public


def delivery_public(delivery: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        **{
            name: getattr(delivery, name)
            for name in DeliveryPublic.model_fields
            if name != "next_attempt_at"
        },
        next_attempt_at=(
            delivery.next_attempt_at if delivery.state == DeliveryState.pending else None
        ),
    )


def _audit(
    session: Session, *, action: str, endpoint: WebhookEndpoint, **details: str | None
) -> None:
    record_event(
        session,
        action=action,
        actor_id=endpoint.account_id,
        asset_id=None,
        details={"endpoint_id": str(endpoint.id), "url": endpoint.url, **details},
    )
