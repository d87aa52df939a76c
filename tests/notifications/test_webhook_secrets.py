"""Webhook secrets: rotating one keeps the old secret signing beside the new for an overlap, so
a receiver switches without losing a delivery, and afterwards only the new one signs; the
secrets are sealed at rest, so the database alone holds none, and the migration seals the
secrets of endpoints made before it (and opens them again going down)."""

import uuid
from datetime import timedelta

import pytest
from alembic import command
from noticing import tell
from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError
from webhook_receiver import register

from clearhouse.db import utcnow
from clearhouse.migrations import alembic_config, upgrade_database
from clearhouse.sealed_secrets import SealedSecretError, SecretSealer, secret_sealer
from likeness.vault_crypto import generate_master_key, load_master_key
from notifications.delivery import deliver_due
from notifications.kinds import NoticeKind


def _rotate(client, user, endpoint_id: str, **body) -> dict:
    answer = client.post(
        f"/v1/webhooks/endpoints/{endpoint_id}/secret", headers=user.headers, json=body or None
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _signers(request, *secrets: str) -> list[str]:
    """Which of ``secrets`` the library accepts the received delivery with."""
    accepted = []
    for secret in secrets:
        try:
            Webhook(secret).verify(request.body, request.headers)
        except WebhookVerificationError:
            continue
        accepted.append(secret)
    return accepted


def test_a_rotated_secret_keeps_signing_through_the_overlap_then_stops(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    old = endpoint["secret"]
    rotated = _rotate(client, holder, endpoint["id"])  # the default overlap: 24 hours
    new = rotated["secret"]
    assert new != old
    until = rotated["previous_secret_until"]
    assert until is not None
    shown = client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=holder.headers)
    assert shown.json()["previous_secret_until"] == until and "secret" not in shown.json()

    # During the overlap each delivery carries both signatures: the receiver still verifying
    # with the old secret accepts it, and so would one already on the new.
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    assert deliver_due(engine, settings=settings) == 1
    [during] = receiver.received
    assert during.verified and len(during.headers["webhook-signature"].split(" ")) == 2
    assert _signers(during, old, new) == [old, new]

    # A day later only the new secret signs.
    receiver.secrets["/hooks"] = new
    tell(engine, holder.id, NoticeKind.use_blocked, handle="captain")
    after = utcnow() + timedelta(hours=settings.webhook_secret_overlap_hours, minutes=1)
    assert deliver_due(engine, settings=settings, now=after) == 1
    assert _signers(receiver.received[-1], old, new) == [new]


def test_an_overlap_of_zero_stops_the_old_secret_at_once(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    rotated = _rotate(client, holder, endpoint["id"], overlap_hours=0)
    assert rotated["previous_secret_until"] is None
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    assert deliver_due(engine, settings=settings) == 0  # the receiver still has the old one
    assert _signers(receiver.received[-1], endpoint["secret"], rotated["secret"]) == [
        rotated["secret"]
    ]
    refused = client.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/secret",
        headers=holder.headers,
        json={"overlap_hours": -1},
    )
    assert refused.status_code == 422


def test_a_second_rotation_within_the_overlap_retires_the_oldest_secret(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    second = _rotate(client, holder, endpoint["id"], overlap_hours=2)["secret"]
    third = _rotate(client, holder, endpoint["id"], overlap_hours=2)["secret"]
    receiver.secrets["/hooks"] = third
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    assert deliver_due(engine, settings=settings) == 1
    assert _signers(receiver.received[-1], endpoint["secret"], second, third) == [second, third]


def _endpoint_rows(engine) -> str:
    """Every column of every endpoint row, as the database holds them."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM webhook_endpoint")).all()
    return repr(rows)


def test_secrets_are_sealed_at_rest(client, holder, engine, settings, receiver):
    endpoint = register(client, holder, receiver, "/hooks")
    rotated = _rotate(client, holder, endpoint["id"])
    stored = _endpoint_rows(engine)
    for secret in (endpoint["secret"], rotated["secret"]):
        assert secret not in stored
        assert secret.removeprefix("whsec_") not in stored
    # Another installation's master key opens nothing.
    with engine.connect() as connection:
        sealed = connection.execute(text("SELECT sealed_secret FROM webhook_endpoint")).scalar()
    stranger = SecretSealer.from_master_key(load_master_key(key_b64=generate_master_key()))
    with pytest.raises(SealedSecretError):
        stranger.open(sealed, purpose="webhook secret", row_id=uuid.UUID(endpoint["id"]))
    # Nor does this one's, for another row.
    with pytest.raises(SealedSecretError):
        secret_sealer(settings).open(sealed, purpose="webhook secret", row_id=uuid.uuid4())


def test_the_migration_seals_existing_secrets_and_opens_them_going_down(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    url = settings.resolved_database_url
    sealer = secret_sealer(settings)
    try:
        command.downgrade(alembic_config(url, secret_sealer=sealer), "0026")
        with engine.connect() as connection:
            plain = connection.execute(text("SELECT secret FROM webhook_endpoint")).scalar()
        assert plain == endpoint["secret"]
        with pytest.raises(RuntimeError, match="needs the master key"):
            upgrade_database(url)
    finally:
        upgrade_database(url, secret_sealer=sealer)
    assert endpoint["secret"] not in _endpoint_rows(engine)
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    assert deliver_due(engine, settings=settings) == 1
    assert receiver.received[-1].verified
