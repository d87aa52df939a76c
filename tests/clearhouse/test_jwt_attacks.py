"""Access tokens that must be refused: each attack from the usual JWT playbook."""

import base64
import json
import time

import pytest
from jose import jwt

from clearhouse.keys import SigningKey, generate_private_pem


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def keys(client):
    return client.app.state.keys


@pytest.fixture
def claims(holder, settings):
    now = int(time.time())
    return {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": str(holder.id),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "t1",
    }


def _sign(claims: dict, key: SigningKey, **header) -> str:
    return jwt.encode(
        claims,
        key.private_pem,
        algorithm="ES256",
        headers={"kid": key.kid, "typ": "at+jwt", **header},
    )


def _status(client, token: str) -> int:
    response = client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
    return response.status_code


def test_a_proper_token_is_accepted(client, keys, claims):
    assert _status(client, _sign(claims, keys.access)) == 200


def test_alg_none_is_refused(client, keys, claims):
    for alg in ("none", "None", "NONE"):
        token = f"{_b64({'alg': alg, 'typ': 'at+jwt', 'kid': keys.access.kid})}.{_b64(claims)}."
        assert _status(client, token) == 401


def test_hs256_signed_with_the_public_key_is_refused(client, keys, claims):
    # The classic algorithm-confusion attack: the public key used as an HMAC secret.
    import hashlib
    import hmac

    header = _b64({"alg": "HS256", "typ": "at+jwt", "kid": keys.access.kid})
    signing_input = f"{header}.{_b64(claims)}".encode()
    for secret in (keys.access.public_pem.encode(), json.dumps(keys.access.public_jwk).encode()):
        signature = _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        assert _status(client, f"{signing_input.decode()}.{signature}") == 401


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 10},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"nbf": int(time.time()) + 3600},
    ],
)
def test_expired_or_wrong_audience_or_issuer_is_refused(client, keys, claims, change):
    assert _status(client, _sign({**claims, **change}, keys.access)) == 401


@pytest.mark.parametrize("missing", ["exp", "aud", "iss", "sub"])
def test_a_token_missing_a_required_claim_is_refused(client, keys, claims, missing):
    claims.pop(missing)
    assert _status(client, _sign(claims, keys.access)) == 401


@pytest.mark.parametrize("typ", ["JWT", "consent-receipt+jwt", None])
def test_wrong_typ_is_refused(client, keys, claims, typ):
    token = jwt.encode(
        claims,
        keys.access.private_pem,
        algorithm="ES256",
        headers={"kid": keys.access.kid, "typ": typ},
    )
    assert _status(client, token) == 401


def test_a_consent_receipt_is_not_an_access_token(client, keys, claims):
    # Signed with the receipt key, as a receipt: must not open the API.
    token = jwt.encode(
        claims,
        keys.receipts.private_pem,
        algorithm="ES256",
        headers={"kid": keys.receipts.kid, "typ": "at+jwt"},
    )
    assert _status(client, token) == 401


def test_tampered_payload_is_refused(client, keys, claims, other_holder):
    header, _, signature = _sign(claims, keys.access).split(".")
    forged = f"{header}.{_b64({**claims, 'sub': str(other_holder.id)})}.{signature}"
    assert _status(client, forged) == 401


def test_an_injected_jwk_or_jku_header_is_refused(client, keys, claims):
    attacker = SigningKey.from_private_pem("attacker", generate_private_pem())
    token = jwt.encode(
        claims,
        attacker.private_pem,
        algorithm="ES256",
        headers={"kid": attacker.kid, "typ": "at+jwt", "jwk": attacker.public_jwk},
    )
    assert _status(client, token) == 401
    # Even with our kid and a jku pointing elsewhere, the header itself is refused.
    for header in (
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"jwk": attacker.public_jwk},
    ):
        assert _status(client, _sign(claims, keys.access, **header)) == 401


def test_a_token_signed_by_another_key_with_our_kid_is_refused(client, keys, claims):
    attacker = SigningKey.from_private_pem("attacker", generate_private_pem())
    token = jwt.encode(
        claims,
        attacker.private_pem,
        algorithm="ES256",
        headers={"kid": keys.access.kid, "typ": "at+jwt"},
    )
    assert _status(client, token) == 401


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "....", "Bearer", "x" * 5000])
def test_garbage_is_refused_not_crashed(client, garbage):
    response = client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {garbage}"})
    assert response.status_code == 401


def test_a_token_for_a_deleted_subject_is_refused(client, keys, claims):
    claims["sub"] = "6a1d5c54-0000-4000-8000-000000000000"
    assert _status(client, _sign(claims, keys.access)) == 401
    claims["sub"] = "not-a-uuid"
    assert _status(client, _sign(claims, keys.access)) == 401
