"""The verified-token cache: a kept token is refused exactly when a fresh check would refuse it."""

import time

import pytest

from clearhouse import signing
from clearhouse.keys import SigningKey, generate_private_pem

ISSUER = "clearhouse"
CHECKS = {"typ": signing.ACCESS_TOKEN_TYPE, "issuer": ISSUER, "audience": "api"}
REQUIRED = ("iss", "aud", "exp", "iat", "sub", "jti")


def _key() -> SigningKey:
    return SigningKey.from_private_pem("access-token", generate_private_pem())


def _token(key: SigningKey, *, lifetime: int = 600) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "api", "sub": "s", "iat": now, "exp": now + lifetime}
    return signing.sign({**claims, "jti": "j"}, key=key, typ=signing.ACCESS_TOKEN_TYPE)


def _verify(cache: signing.VerifiedTokens, token: str, key: SigningKey) -> dict:
    return cache.verify(token, keys={key.kid: key}, required=REQUIRED, **CHECKS)


def test_a_kept_token_skips_the_signature_check(monkeypatch):
    cache, key = signing.VerifiedTokens(), _key()
    token = _token(key)
    assert _verify(cache, token, key)["sub"] == "s"

    def refuse(*_args, **_kwargs):
        raise AssertionError("checked again")

    monkeypatch.setattr(signing, "verify", refuse)
    assert _verify(cache, token, key)["sub"] == "s"


def test_a_kept_token_is_refused_once_it_expires(monkeypatch):
    cache, key = signing.VerifiedTokens(), _key()
    token = _token(key, lifetime=60)
    expires = _verify(cache, token, key)["exp"]
    monkeypatch.setattr(signing.time, "time", lambda: expires + 1)
    with pytest.raises(signing.TokenRejected, match="expired"):
        _verify(cache, token, key)


def test_a_kept_token_is_refused_by_a_ring_without_its_key():
    cache, key = signing.VerifiedTokens(), _key()
    token = _token(key)
    _verify(cache, token, key)
    # Another key published under the same kid (a ring that does not hold the signer).
    impostor = _key()
    with pytest.raises(signing.TokenRejected):
        cache.verify(token, keys={key.kid: impostor}, required=REQUIRED, **CHECKS)
    with pytest.raises(signing.TokenRejected, match="unknown signing key"):
        cache.verify(token, keys={}, required=REQUIRED, **CHECKS)


def test_a_kept_token_answers_only_the_checks_it_passed():
    cache, key = signing.VerifiedTokens(), _key()
    token = _token(key)
    _verify(cache, token, key)
    with pytest.raises(signing.TokenRejected, match="type"):
        cache.verify(
            token,
            keys={key.kid: key},
            typ=signing.RECEIPT_TYPE,
            issuer=ISSUER,
            audience="api",
            required=REQUIRED,
        )
    with pytest.raises(signing.TokenRejected):
        cache.verify(
            token,
            keys={key.kid: key},
            typ=CHECKS["typ"],
            issuer=ISSUER,
            audience="other",
            required=REQUIRED,
        )


def test_refusals_are_not_kept_and_capacity_is_bounded():
    cache, key = signing.VerifiedTokens(capacity=2), _key()
    expired = _token(key, lifetime=-10)
    for _ in range(2):
        with pytest.raises(signing.TokenRejected, match="expired"):
            _verify(cache, expired, key)
    tokens = [_token(key, lifetime=600 + n) for n in range(3)]
    for token in tokens:
        _verify(cache, token, key)
    assert len(cache._entries) == 2
