"""Access tokens that must be refused: each attack from the usual JWT playbook.

Every refusal is a 401 problem whose detail names the check in ``clearhouse/signing.py``
that refused the token, so each test fails if its own check is removed, even when a later
check would still have refused the token.
"""

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
    return client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _refusal(client, token: str) -> str:
    """The reason the API gives for refusing ``token``; fails if it was not refused."""
    response = client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    return response.json()["detail"]


def test_a_proper_token_is_accepted(client, keys, claims):
    assert _status(client, _sign(claims, keys.access)) == 200


def test_alg_none_is_refused(client, keys, claims):
    for alg in ("none", "None", "NONE"):
        token = f"{_b64({'alg': alg, 'typ': 'at+jwt', 'kid': keys.access.kid})}.{_b64(claims)}."
        assert f"algorithm {alg!r} is not allowed" in _refusal(client, token)


def test_hs256_signed_with_the_public_key_is_refused(client, keys, claims):
    # The classic algorithm-confusion attack: the public key used as an HMAC secret.
    import hashlib
    import hmac

    header = _b64({"alg": "HS256", "typ": "at+jwt", "kid": keys.access.kid})
    signing_input = f"{header}.{_b64(claims)}".encode()
    for secret in (keys.access.public_pem.encode(), json.dumps(keys.access.public_jwk).encode()):
        signature = _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        token = f"{signing_input.decode()}.{signature}"
        assert "algorithm 'HS256' is not allowed" in _refusal(client, token)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"exp": int(time.time()) - 10}, "Signature has expired"),
        ({"aud": "someone-else"}, "Invalid audience"),
        ({"iss": "https://evil.example"}, "Invalid issuer"),
        ({"nbf": int(time.time()) + 3600}, "The token is not yet valid (nbf)"),
    ],
)
def test_expired_or_wrong_audience_or_issuer_is_refused(client, keys, claims, change, reason):
    assert reason in _refusal(client, _sign({**claims, **change}, keys.access))


@pytest.mark.parametrize("missing", ["exp", "aud", "iss", "sub", "iat", "jti"])
def test_a_token_missing_a_required_claim_is_refused(client, keys, claims, missing):
    claims.pop(missing)
    assert f'missing required key "{missing}"' in _refusal(client, _sign(claims, keys.access))


@pytest.mark.parametrize("typ", ["JWT", "consent-receipt+jwt", ""])
def test_wrong_typ_is_refused(client, keys, claims, typ):
    token = jwt.encode(
        claims,
        keys.access.private_pem,
        algorithm="ES256",
        headers={"kid": keys.access.kid, "typ": typ},
    )
    assert "token type must be 'at+jwt'" in _refusal(client, token)


def test_a_token_without_typ_is_refused(client, keys, claims):
    header = _b64({"alg": "ES256", "kid": keys.access.kid})
    signing_input = f"{header}.{_b64(claims)}"
    token = f"{signing_input}.{jws_signature(signing_input, keys.access)}"
    assert "token type must be 'at+jwt'" in _refusal(client, token)


def jws_signature(signing_input: str, key: SigningKey) -> str:
    """An ES256 signature (raw r||s, RFC 7518) over any signing input, with our key."""
    from jose import jwk

    return _b64(jwk.construct(key.private_pem, "ES256").sign(signing_input.encode()))


def test_a_consent_receipt_is_not_an_access_token(client, keys, claims):
    # Signed with the receipt key, as a receipt: must not open the API.
    token = jwt.encode(
        claims,
        keys.receipts.private_pem,
        algorithm="ES256",
        headers={"kid": keys.receipts.kid, "typ": "at+jwt"},
    )
    assert "unknown signing key" in _refusal(client, token)


def test_tampered_payload_is_refused(client, keys, claims, other_holder):
    header, _, signature = _sign(claims, keys.access).split(".")
    forged = f"{header}.{_b64({**claims, 'sub': str(other_holder.id)})}.{signature}"
    refusal = _refusal(client, forged)
    assert "Signature verification failed" in refusal
    assert ".." not in refusal  # one sentence, one full stop


def test_an_injected_jwk_header_is_refused(client, keys, claims):
    attacker = SigningKey.from_private_pem("attacker", generate_private_pem())
    token = jwt.encode(
        claims,
        attacker.private_pem,
        algorithm="ES256",
        headers={"kid": attacker.kid, "typ": "at+jwt", "jwk": attacker.public_jwk},
    )
    assert "header jwk refused" in _refusal(client, token)


# Signed with our own key and kid, so that nothing but the header check stands between
# each of these tokens and the API: a library that followed the header would be fooled.
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jwk", "attacker"),
        ("jku", "https://evil.example/jwks.json"),
        ("x5u", "https://evil.example/cert.pem"),
        ("x5c", ["MIIBszCCAVmgAwIBAgIUattacker"]),
        ("crit", ["exp"]),
    ],
)
def test_headers_that_bring_their_own_key_or_extensions_are_refused(
    client, keys, claims, name, value
):
    if value == "attacker":
        value = SigningKey.from_private_pem("attacker", generate_private_pem()).public_jwk
    token = _sign(claims, keys.access, **{name: value})
    assert f"header {name} refused" in _refusal(client, token)


def test_a_token_signed_by_another_key_with_our_kid_is_refused(client, keys, claims):
    attacker = SigningKey.from_private_pem("attacker", generate_private_pem())
    token = jwt.encode(
        claims,
        attacker.private_pem,
        algorithm="ES256",
        headers={"kid": keys.access.kid, "typ": "at+jwt"},
    )
    assert "Signature verification failed" in _refusal(client, token)


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("", "Send an access token"),
        ("a.b", "not a JWS compact token"),
        ("a.b.c", "not a JWS compact token"),
        ("....", "not a JWS compact token"),
        ("Bearer", "not a JWS compact token"),
        ("x" * 5000, "not a JWS compact token"),
    ],
)
def test_garbage_is_refused_not_crashed(client, garbage, reason):
    assert reason in _refusal(client, garbage)


def test_a_token_for_a_deleted_subject_is_refused(client, keys, claims):
    claims["sub"] = "6a1d5c54-0000-4000-8000-000000000000"
    assert "The account is unknown or disabled" in _refusal(client, _sign(claims, keys.access))
    claims["sub"] = "not-a-uuid"
    assert "badly formed hexadecimal UUID string" in _refusal(client, _sign(claims, keys.access))


# JSON values of every type but a string, for header fields that RFC 7515 makes strings.
NOT_STRINGS = {
    "array": ["a", "b"],
    "object": {"a": 1},
    "number": 7,
    "fraction": 1.5,
    "boolean": True,
    "null": None,
}
STRING_HEADERS = ("kid", "alg", "typ", "cty")


def _unsigned_header_token(header: dict, claims: dict) -> str:
    """A token with any header at all: the signature is never reached, so it may be junk."""
    return f"{_b64(header)}.{_b64(claims)}.{_b64(b'not a signature')}"


def _malformed(field: str, value, *, kid: str, typ: str) -> dict:
    return {"alg": "ES256", "typ": typ, "kid": kid, field: value}


@pytest.mark.parametrize("field", STRING_HEADERS)
@pytest.mark.parametrize("shape", NOT_STRINGS)
def test_a_header_field_of_the_wrong_type_is_a_401_naming_it(client, keys, claims, field, shape):
    header = _malformed(field, NOT_STRINGS[shape], kid=keys.access.kid, typ="at+jwt")
    json_type = "number" if shape == "fraction" else shape
    reason = _refusal(client, _unsigned_header_token(header, claims))
    assert f"header {field} must be a string, not a JSON {json_type}" in reason


@pytest.mark.parametrize("field", STRING_HEADERS)
@pytest.mark.parametrize("shape", NOT_STRINGS)
def test_a_receipt_with_a_header_field_of_the_wrong_type_is_a_400(
    client, keys, claims, field, shape
):
    header = _malformed(field, NOT_STRINGS[shape], kid=keys.receipts.kid, typ="consent-receipt+jwt")
    response = client.post(
        "/v1/receipts/verify", json={"token": _unsigned_header_token(header, claims)}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert f"header {field} must be a string" in response.json()["detail"]


@pytest.mark.parametrize(
    "header", [["ES256"], "ES256", 7, None], ids=["array", "string", "n", "null"]
)
def test_a_header_that_is_no_json_object_is_refused(client, keys, claims, header):
    token = f"{_b64(header)}.{_b64(claims)}.{_b64(b'sig')}"
    assert "not a JWS compact token" in _refusal(client, token)
    response = client.post("/v1/receipts/verify", json={"token": token})
    assert response.status_code == 400, response.text
    assert "not a JWS compact token" in response.json()["detail"]


def test_a_signed_token_with_a_list_kid_is_refused_even_when_verified_before(client, keys, claims):
    """The cache of verified tokens (signing.VerifiedTokens) is keyed by the whole token,
    so a token that passed once does not let a malformed twin through, nor crash it."""
    assert _status(client, _sign(claims, keys.access)) == 200
    assert "header kid must be a string" in _refusal(
        client, _sign(claims, keys.access, kid=[keys.access.kid])
    )
