"""Clearance tokens: the signed yes that lets one request reach a generator.

An ES256 JWS (``typ`` ``clearance+jwt``) signed with the platform's receipt key, the key that
signs consent receipts and audit checkpoints, so anyone can verify it against
``/.well-known/jwks.json``. It is bound to one request by its digest
(:mod:`licensing.digest`), names the grants and policy versions the decision relied on (a
release re-checks each) and the quote's total, and expires within minutes
(``CLEARHOUSE_CLEARANCE_TOKEN_MINUTES``). Claims::

    iss, aud, sub (the requester's account id), iat, nbf, exp, jti (the clearance id),
    request_digest, use (the declared use, which the digest also covers),
    relied_on: [{asset, grant, policy_version}], quote: {total_minor, currency}

A generator verifies the signature with the JWKS, ``typ``, ``iss``, ``aud`` and ``exp``, then
compares ``request_digest`` with the digest it computes of the request it is about to run.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clearhouse import signing
from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from licensing.errors import ClearanceRefusal, ClearanceTokenRefused
from licensing.quote import Quote
from policies.decisions import ClearanceOutcome, Decision, ReliedGrant
from policies.document import Use
from policies.facts import GenerationRequest

REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti")


@dataclass(frozen=True, slots=True)
class ClearanceClaims:
    """What a verified clearance token says."""

    clearance_id: uuid.UUID
    requester_id: uuid.UUID
    request_digest: str
    declared_use: Use
    relied_on: tuple[ReliedGrant, ...]
    total_minor: int
    currency: str
    issued_at: datetime
    expires_at: datetime


def issue_clearance_token(
    *,
    clearance_id: uuid.UUID,
    request: GenerationRequest,
    decision: Decision,
    quote: Quote,
    now: datetime,
    settings: Settings,
    keys: KeyRing,
) -> str:
    """Sign the clearance of ``request``; only a cleared decision is ever signed."""
    if decision.outcome != ClearanceOutcome.cleared:
        raise ValueError(f"a {decision.outcome.value} decision gets no clearance token")
    issued = int(now.timestamp())
    expires = int((now + timedelta(minutes=settings.clearance_token_minutes)).timestamp())
    claims = {
        "iss": settings.issuer,
        "aud": settings.clearance_audience,
        "sub": str(request.requester.account_id),
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "jti": str(clearance_id),
        "request_digest": request.digest,
        "use": request.declared_use.value,
        "relied_on": [
            {
                "asset": str(relied.asset_id),
                "grant": str(relied.grant_id),
                "policy_version": str(relied.policy_version_id),
            }
            for relied in decision.relied_on
        ],
        "quote": {"total_minor": quote.total_minor, "currency": quote.currency},
    }
    return signing.sign(claims, key=keys.receipts, typ=signing.CLEARANCE_TYPE)


def verify_clearance_token(
    token: str, *, request_digest: str, now: datetime, settings: Settings, keys: KeyRing
) -> ClearanceClaims:
    """The token's claims if it clears the request whose digest is ``request_digest`` at
    ``now``; else :class:`ClearanceTokenRefused` with the check that failed as its reason."""
    try:
        claims = signing.verify(
            token,
            keys=keys.receipt_keys,
            typ=signing.CLEARANCE_TYPE,
            issuer=settings.issuer,
            audience=settings.clearance_audience,
            required=REQUIRED_CLAIMS,
            at=now,
        )
    except signing.TokenRejected as exc:
        raise ClearanceTokenRefused(ClearanceRefusal(exc.reason), str(exc)) from exc
    cleared = _parse(claims)
    if cleared.request_digest != request_digest:
        raise ClearanceTokenRefused(
            ClearanceRefusal.other_request,
            "This token clears another request: its request_digest differs from this "
            "request's. Clear this request itself.",
        )
    return cleared


def _parse(claims: dict[str, Any]) -> ClearanceClaims:
    """Our own signed claims, read into their types; a shape we never sign is refused."""
    try:
        quote = claims["quote"]
        return ClearanceClaims(
            clearance_id=uuid.UUID(claims["jti"]),
            requester_id=uuid.UUID(claims["sub"]),
            request_digest=_string(claims["request_digest"]),
            declared_use=Use(_string(claims["use"])),
            relied_on=tuple(
                ReliedGrant(
                    asset_id=uuid.UUID(relied["asset"]),
                    grant_id=uuid.UUID(relied["grant"]),
                    policy_version_id=uuid.UUID(relied["policy_version"]),
                )
                for relied in claims["relied_on"]
            ),
            total_minor=_integer(quote["total_minor"]),
            currency=_string(quote["currency"]),
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ClearanceTokenRefused(
            ClearanceRefusal.claims_rejected,
            f"the token's claims are not those of a clearance ({exc.__class__.__name__}).",
        ) from exc


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string was expected")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("an integer was expected")
    return value
