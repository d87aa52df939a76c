"""Clearance tokens: made only for a cleared decision, verifiable with the published JWKS,
and refused — each for its own reason — when tampered, expired, of another type, signed by
another key, or bound to another request."""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from policy_facts import NOW, asset, decide, request

from clearhouse import signing
from clearhouse.app import create_app
from clearhouse.keys import KeyRing, SigningKey, generate_private_pem
from clearhouse.settings import Settings
from licensing.errors import ClearanceRefusal, ClearanceTokenRefused
from licensing.quote import GenerationParameters, quote
from licensing.tokens import issue_clearance_token, verify_clearance_token

DIGEST = "c" * 64
PARAMETERS = GenerationParameters(duration_ms=4000, width=640, height=480, steps=20)


def _key(purpose: str) -> SigningKey:
    return SigningKey.from_private_pem(purpose, generate_private_pem())


@pytest.fixture(scope="module")
def keys() -> KeyRing:
    return KeyRing(access=_key("access-token"), receipts=_key("receipt"))


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    """Overrides the suite's per-database settings: these tests need no database."""
    return Settings(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def cleared():
    the_request = request(digest=DIGEST)
    decision = decide(the_request, asset(), asset())
    return the_request, decision, quote(PARAMETERS, decision=decision)


@pytest.fixture(scope="module")
def token(cleared, settings, keys) -> str:
    the_request, decision, _ = cleared
    return _issue(the_request, decision, settings, keys, clearance_id=uuid.UUID(int=7))


def _issue(the_request, decision, settings, keys, *, clearance_id=None) -> str:
    return issue_clearance_token(
        clearance_id=clearance_id or uuid.uuid4(),
        request=the_request,
        decision=decision,
        quote=quote(PARAMETERS, decision=decision),
        now=NOW,
        settings=settings,
        keys=keys,
    )


def _verify(token, settings, keys, *, digest=DIGEST, now=NOW):
    return verify_clearance_token(
        token, request_digest=digest, now=now, settings=settings, keys=keys
    )


def _refusal(token, settings, keys, **kwargs) -> ClearanceTokenRefused:
    with pytest.raises(ClearanceTokenRefused) as refused:
        _verify(token, settings, keys, **kwargs)
    return refused.value


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _with_segment(token: str, index: int, value: dict) -> str:
    parts = token.split(".")
    parts[index] = _b64(json.dumps(value).encode())
    return ".".join(parts)


def test_a_token_says_what_was_cleared_and_until_when(token, cleared, settings, keys):
    the_request, decision, priced = cleared
    claims = _verify(token, settings, keys)
    assert claims.clearance_id == uuid.UUID(int=7)
    assert claims.requester_id == the_request.requester.account_id
    assert claims.request_digest == DIGEST
    assert claims.declared_use == the_request.declared_use
    assert claims.relied_on == decision.relied_on and len(claims.relied_on) == 2
    assert (claims.total_minor, claims.currency) == (priced.total_minor, "USD")
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + timedelta(minutes=settings.clearance_token_minutes)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "typ": "clearance+jwt", "kid": keys.receipts.kid}
    assert _segment(token, 1)["aud"] == "clearhouse-generators"


def test_anyone_verifies_a_token_with_the_published_jwks(tmp_path):
    """The app's own key ring signs; a third party checks with /.well-known/jwks.json only."""
    settings = Settings(data_dir=tmp_path)  # SQLite, migrated on start
    with TestClient(create_app(settings)) as client:
        the_request = request(digest=DIGEST)
        token = _issue(the_request, decide(the_request, asset()), settings, client.app.state.keys)
        published = client.get("/.well-known/jwks.json").json()
    published = client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [key for key in published["keys"] if key["kid"] == kid]
    claims = jwt.decode(
        token,
        jwk,
        algorithms=["ES256"],
        audience=settings.clearance_audience,
        issuer=settings.issuer,
        options={"verify_exp": False},
    )
    assert claims["request_digest"] == DIGEST


def test_only_a_cleared_decision_is_signed(settings, keys):
    the_request = request(digest=DIGEST)
    denied = decide(the_request, asset(document=None))
    with pytest.raises(ValueError, match="denied decision gets no clearance token"):
        _issue(the_request, denied, settings, keys)


def test_a_token_for_another_request_is_refused(token, settings, keys):
    refused = _refusal(token, settings, keys, digest="d" * 64)
    assert refused.reason == ClearanceRefusal.other_request
    assert "clears another request" in refused.detail


def test_an_expired_token_is_refused(token, settings, keys):
    expiry = NOW + timedelta(minutes=settings.clearance_token_minutes)
    _verify(token, settings, keys, now=expiry - timedelta(seconds=1))
    refused = _refusal(token, settings, keys, now=expiry)
    assert refused.reason == ClearanceRefusal.expired


def test_a_token_used_before_it_was_issued_is_refused(token, settings, keys):
    refused = _refusal(token, settings, keys, now=NOW - timedelta(seconds=1))
    assert refused.reason == ClearanceRefusal.claims_rejected
    assert "not yet valid" in refused.detail


def test_a_tampered_payload_is_refused(token, settings, keys):
    # Rebinding the token to another request, or lowering its price, breaks the signature.
    payload = _segment(token, 1)
    for change in ({"request_digest": "d" * 64}, {"quote": {"total_minor": 0, "currency": "USD"}}):
        tampered = _with_segment(token, 1, {**payload, **change})
        digest = change.get("request_digest", DIGEST)
        refused = _refusal(tampered, settings, keys, digest=digest)
        assert refused.reason == ClearanceRefusal.bad_signature
        assert "Signature verification failed" in refused.detail


def test_a_tampered_header_is_refused(token, settings, keys):
    header = _segment(token, 0)
    extra = _with_segment(token, 0, {**header, "x5t": "abc"})
    assert _refusal(extra, settings, keys).reason == ClearanceRefusal.bad_signature
    as_receipt = _with_segment(token, 0, {**header, "typ": signing.RECEIPT_TYPE})
    assert _refusal(as_receipt, settings, keys).reason == ClearanceRefusal.wrong_type
    own_key = _with_segment(token, 0, {**header, "jwk": keys.receipts.public_jwk})
    assert _refusal(own_key, settings, keys).reason == ClearanceRefusal.header_refused


def test_a_tampered_signature_is_refused(token, settings, keys):
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    tampered = f"{head}.{payload}.{_b64(bytes(raw))}"
    assert _refusal(tampered, settings, keys).reason == ClearanceRefusal.bad_signature
    truncated = f"{head}.{payload}.{signature[:-4]}"
    assert _refusal(truncated, settings, keys).reason == ClearanceRefusal.bad_signature


def test_a_token_signed_by_a_key_not_ours_for_clearances_is_refused(token, settings, keys):
    claims = _segment(token, 1)
    stranger = _key("receipt")
    unknown = signing.sign(claims, key=stranger, typ=signing.CLEARANCE_TYPE)
    assert _refusal(unknown, settings, keys).reason == ClearanceRefusal.unknown_key
    # The access-token key is published too, but never signs clearances.
    by_access_key = signing.sign(claims, key=keys.access, typ=signing.CLEARANCE_TYPE)
    assert _refusal(by_access_key, settings, keys).reason == ClearanceRefusal.unknown_key
    # Another key claiming our receipt key's kid.
    forged = jwt.encode(
        claims,
        stranger.private_pem,
        algorithm="ES256",
        headers={"kid": keys.receipts.kid, "typ": signing.CLEARANCE_TYPE},
    )
    assert _refusal(forged, settings, keys).reason == ClearanceRefusal.bad_signature


def test_a_token_signed_by_a_retired_receipt_key_still_verifies(token, settings, keys):
    rotated = KeyRing(
        access=keys.access,
        receipts=_key("receipt"),
        retired_receipts={keys.receipts.kid: keys.receipts},
    )
    assert _verify(token, settings, rotated).clearance_id == uuid.UUID(int=7)


def test_alg_none_and_hs256_are_refused(token, settings, keys):
    payload = token.split(".")[1]
    header = _segment(token, 0)
    unsigned = f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}.{payload}."
    refused = _refusal(unsigned, settings, keys)
    assert refused.reason == ClearanceRefusal.algorithm_not_allowed
    assert "algorithm 'none' is not allowed" in refused.detail
    # HS256 keyed with our public key: the classic algorithm confusion.
    hs256 = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    signing_input = f"{hs256}.{payload}".encode()
    mac = hmac.new(keys.receipts.public_pem.encode(), signing_input, hashlib.sha256).digest()
    refused = _refusal(f"{signing_input.decode()}.{_b64(mac)}", settings, keys)
    assert refused.reason == ClearanceRefusal.algorithm_not_allowed
    assert "algorithm 'HS256' is not allowed" in refused.detail


def test_a_token_for_another_issuer_or_audience_is_refused(token, settings, keys):
    claims = _segment(token, 1)
    for change, word in (({"iss": "elsewhere"}, "issuer"), ({"aud": "clearhouse-api"}, "audience")):
        other = signing.sign({**claims, **change}, key=keys.receipts, typ=signing.CLEARANCE_TYPE)
        refused = _refusal(other, settings, keys)
        assert refused.reason == ClearanceRefusal.claims_rejected
        assert word in refused.detail.lower()


def test_a_token_of_our_signing_without_a_clearances_claims_is_refused(token, settings, keys):
    claims = _segment(token, 1)
    for missing in ("exp", "relied_on", "quote"):
        shorn = {name: value for name, value in claims.items() if name != missing}
        signed = signing.sign(shorn, key=keys.receipts, typ=signing.CLEARANCE_TYPE)
        assert _refusal(signed, settings, keys).reason == ClearanceRefusal.claims_rejected


def test_what_is_not_a_token_is_refused_as_malformed(settings, keys):
    for junk in ("", "not-a-token", "a.b"):
        assert _refusal(junk, settings, keys).reason == ClearanceRefusal.malformed
