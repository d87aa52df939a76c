"""Sending webhook deliveries: each due delivery is claimed (so several processes send it
once), signed with its endpoint's secret as the Standard Webhooks specification says
(`webhook-id`, `webhook-timestamp`, `webhook-signature`), and POSTed. A 2xx answer delivers
it; anything else (another status, a timeout, a refused connection, a redirect) is tried
again after a pause that doubles each time, up to ``webhook_max_attempts``. An endpoint that
fails ``webhook_disable_after`` attempts in a row is disabled and its owner told in the inbox;
its deliveries wait, and go when the owner enables it again.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select
from standardwebhooks import Webhook

from clearhouse.db import utcnow, write_session
from clearhouse.settings import Settings
from notifications.addresses import PinnedEndpoint, pin_endpoint
from notifications.endpoints import signing_secrets
from notifications.errors import EndpointRefused
from notifications.kinds import NoticeKind
from notifications.metrics import WEBHOOK_ATTEMPTS
from notifications.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from notifications.service import notify

log = logging.getLogger(__name__)

_CLAIM = timedelta(minutes=2)  # longer than any delivery's timeout
_MAX_PAUSE = timedelta(days=1)


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver_due(engine: Engine, *, settings: Settings, now: datetime | None = None) -> int:
    """Attempt every delivery due by ``now`` to an enabled endpoint; how many succeeded."""
    now = now or utcnow()
    with Session(engine) as session:
        due = session.exec(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.state == DeliveryState.pending,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.enabled,
            )
            .order_by(WebhookDelivery.created_at)
        ).all()
    return sum(
        _deliver(engine, delivery_id=delivery_id, settings=settings, now=now) for delivery_id in due
    )


def _deliver(engine: Engine, *, delivery_id: uuid.UUID, settings: Settings, now: datetime) -> bool:
    with write_session(engine) as session:
        claimed = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.state == DeliveryState.pending,
                or_(
                    WebhookDelivery.claimed_until.is_(None),
                    WebhookDelivery.claimed_until < now,
                ),
            )
            .values(claimed_until=now + _CLAIM, attempts=WebhookDelivery.attempts + 1)
        ).rowcount
        if not claimed:
            return False
        delivery = session.get(WebhookDelivery, delivery_id)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        secrets = signing_secrets(endpoint, settings=settings, at=now)
    attempt = send(delivery, url=endpoint.url, secrets=secrets, settings=settings)
    with write_session(engine) as session:
        _record(session, delivery_id=delivery_id, attempt=attempt, settings=settings, now=now)
    return attempt.succeeded


def send(delivery: WebhookDelivery, *, url: str, secrets: list[str], settings: Settings) -> Attempt:
    """POST the delivery's message, signed now, to the address its URL was checked at; what
    came of it."""
    try:
        pinned = pin_endpoint(url, allow_private=settings.webhook_allow_private_addresses)
    except EndpointRefused as exc:
        return Attempt(status_code=None, error=exc.detail)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    headers = {
        "Host": pinned.parts.netloc,
        "Content-Type": "application/json",
        "User-Agent": "Clearhouse-Webhooks/1",
        **signature_headers(message_id=delivery.message_id, body=body, secrets=secrets),
    }
    try:
        with _connection_pool(pinned, timeout=settings.webhook_timeout_seconds) as pool:
            # No redirects (following one could lead inside our network) and no retries of
            # its own: a 3xx, like any other answer but a 2xx, is a failed attempt.
            response = pool.urlopen(
                "POST",
                pinned.target,
                body=body.encode(),
                headers=headers,
                redirect=False,
                retries=False,
                assert_same_host=False,
            )
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        return Attempt(status_code=None, error=f"{type(exc).__name__}: {exc}"[:500])
    failed = None if 200 <= response.status < 300 else f"HTTP {response.status}"
    return Attempt(status_code=response.status, error=failed)


def _connection_pool(pinned: PinnedEndpoint, *, timeout: float) -> urllib3.HTTPConnectionPool:
    """A connection to the pinned address; over TLS, the SNI and the certificate check name the
    URL's host, as they would had we connected by name."""
    if pinned.parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            pinned.address,
            pinned.port,
            timeout=timeout,
            server_hostname=pinned.hostname,
            assert_hostname=pinned.hostname,
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(pinned.address, pinned.port, timeout=timeout)


def signature_headers(*, message_id: str, body: str, secrets: list[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, timestamped now: one signature per
    secret, space-separated, as the specification allows while a secret is being rotated (a
    receiver accepts the message if any one verifies)."""
    at = utcnow()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, at, body) for secret in secrets
        ),
    }


def _record(
    session: Session,
    *,
    delivery_id: uuid.UUID,
    attempt: Attempt,
    settings: Settings,
    now: datetime,
) -> None:
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:  # its endpoint was deleted while it was being sent
        return
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
    delivery.claimed_until = None
    delivery.last_attempt_at = utcnow()
    delivery.last_status_code = attempt.status_code
    delivery.last_error = attempt.error
    if attempt.succeeded:
        WEBHOOK_ATTEMPTS.labels("delivered").inc()
        delivery.state = DeliveryState.delivered
        delivery.delivered_at = delivery.last_attempt_at
        endpoint.consecutive_failures = 0
    else:
        if delivery.attempts >= settings.webhook_max_attempts:
            WEBHOOK_ATTEMPTS.labels("failed").inc()
            delivery.state = DeliveryState.failed
        else:
            WEBHOOK_ATTEMPTS.labels("retrying").inc()
            delivery.next_attempt_at = now + next_pause(
                delivery.attempts, first=settings.webhook_retry_seconds
            )
        endpoint.consecutive_failures += 1
        if endpoint.enabled and endpoint.consecutive_failures >= settings.webhook_disable_after:
            _disable(session, endpoint=endpoint)
    session.add_all([delivery, endpoint])


def next_pause(attempts: int, *, first: float) -> timedelta:
    """The pause after the ``attempts``-th failed attempt: first, twice that, four times..."""
    return min(timedelta(seconds=first * 2 ** min(attempts - 1, 20)), _MAX_PAUSE)


def _disable(session: Session, *, endpoint: WebhookEndpoint) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"Disabled after {endpoint.consecutive_failures} failed attempts in a row; "
        "enable it again when it answers, and its waiting deliveries go."
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)
    notify(
        session,
        endpoint.account_id,
        NoticeKind.endpoint_disabled,
        [endpoint.id],
        {"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": endpoint.disabled_reason},
    )
