"""The one place that makes and checks JSON Web Tokens (python-jose).

Everything the platform signs — access tokens, consent receipts — goes through here, so the
rules are stated once: ES256 only (an explicit allow-list, never the token's own word),
one algorithm per key, the key chosen by ``kid`` from our own key ring (never from the
token: ``jwk``/``jku``/``x5u``/``x5c``/``crit`` headers are refused), and ``typ`` pinned
per purpose so a receipt can never pass as an access token or the other way round. A header
whose fields have the wrong JSON type (a ``kid`` that is a list, an object, a number) is a
malformed token, refused before any field is used. Each refusal names the check that
failed: the header list and the rules are public, so the reason tells an attacker nothing
new and tells an integrator what to fix; each check raises its own subclass of
:class:`TokenRejected`, whose ``reason`` says the same to a program.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, ClassVar

from jose import jwk, jws, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError

from clearhouse.keys import SigningKey, VerificationKey

ALLOWED_ALGORITHMS = ("ES256",)
# Headers that would let a token choose its own verification key, or demand
# extensions we do not implement.
REFUSED_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
# RFC 7515 section 4.1 makes these header parameters strings; we read alg, typ and kid.
STRING_HEADERS = ("alg", "typ", "kid", "cty")

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 media type)
RECEIPT_TYPE = "consent-receipt+jwt"
CHECKPOINT_TYPE = "audit-checkpoint+jwt"
CLEARANCE_TYPE = "clearance+jwt"
_TIME_CLAIMS = frozenset({"exp", "nbf"})


class TokenRejected(Exception):
    """A token that failed a check; the message says which, for logs and problem details."""

    reason: ClassVar[str] = "rejected"


class MalformedToken(TokenRejected):
    """Not a token at all: no JWS compact serialisation, or a header field of the wrong type.
    Routes that take a token in the body answer it with 400, not with a verdict."""

    reason = "malformed"


class AlgorithmRefused(TokenRejected):
    reason = "algorithm_not_allowed"


class HeaderRefused(TokenRejected):
    reason = "header_refused"


class WrongTokenType(TokenRejected):
    reason = "wrong_type"


class UnknownKey(TokenRejected):
    reason = "unknown_key"


class BadSignature(TokenRejected):
    """The signature does not verify: the token was changed, or signed by another key."""

    reason = "bad_signature"


class TokenExpired(TokenRejected):
    reason = "expired"


class ClaimsRejected(TokenRejected):
    """Issuer, audience, a required claim missing, or not valid yet."""

    reason = "claims_rejected"


def sign(claims: Mapping[str, Any], *, key: SigningKey, typ: str) -> str:
    return jwt.encode(
        dict(claims),
        _private_key(key.private_pem),
        algorithm="ES256",
        headers={"kid": key.kid, "typ": typ},
    )


@cache
def _private_key(private_pem: str) -> jwk.Key:
    """The key parsed once: reading its PEM cost a third of each signature."""
    return jwk.construct(private_pem, "ES256")


def verify(
    token: str,
    *,
    keys: Mapping[str, VerificationKey],
    typ: str,
    issuer: str,
    audience: str | None = None,
    required: tuple[str, ...] = ("iss", "iat", "jti"),
    at: datetime | None = None,
) -> dict[str, Any]:
    """The token's claims, or :class:`TokenRejected` naming the first check that failed.

    ``at``: the time ``exp`` and ``nbf`` are checked against, where the caller states it;
    by default the clock's."""
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise MalformedToken("not a JWS compact token") from exc
    for name in STRING_HEADERS:
        if name in header and not isinstance(header[name], str):
            kind = type(header[name]).__name__
            raise MalformedToken(f"header {name} must be a string, not a JSON {_JSON_TYPE[kind]}")
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise AlgorithmRefused(f"algorithm {algorithm!r} is not allowed")
    refused = sorted(REFUSED_HEADERS & header.keys())
    if refused:
        raise HeaderRefused(
            f"header {', '.join(refused)} refused: a token may not carry its own key "
            "or critical extensions"
        )
    if header.get("typ") != typ:
        raise WrongTokenType(f"token type must be {typ!r}")
    key = keys.get(header.get("kid", ""))
    if key is None:
        raise UnknownKey("unknown signing key")
    try:
        jws.verify(token, key.public_pem, algorithms=list(ALLOWED_ALGORITHMS))
    except JOSEError as exc:
        raise BadSignature(str(exc) or exc.__class__.__name__) from exc
    options = {
        f"require_{claim}": True
        for claim in required
        if at is None or claim not in _TIME_CLAIMS  # then checked at ``at``, below
    }
    options["verify_aud"] = audience is not None
    # The signature was verified just above, so that its failure is told apart from the
    # claims'; python-jose only reads the claims here.
    options["verify_signature"] = False
    if at is not None:
        options.update(verify_exp=False, verify_nbf=False)
    try:
        claims = jwt.decode(
            token,
            key.public_pem,
            algorithms=list(ALLOWED_ALGORITHMS),
            audience=audience,
            issuer=issuer,
            options=options,
        )
    except ExpiredSignatureError as exc:
        raise TokenExpired(str(exc)) from exc
    except JOSEError as exc:
        raise ClaimsRejected(str(exc) or exc.__class__.__name__) from exc
    if at is not None:
        _check_times(claims, at=at.timestamp(), required=required)
    return claims


def _check_times(claims: Mapping[str, Any], *, at: float, required: tuple[str, ...]) -> None:
    """RFC 7519 sections 4.1.4 and 4.1.5 at the stated time: valid from ``nbf``, until
    (not at) ``exp``."""
    for name in sorted(_TIME_CLAIMS):
        if name not in claims:
            if name in required:
                raise ClaimsRejected(f'missing required key "{name}" among claims')
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ClaimsRejected(f"claim {name} must be a number of seconds")
    if "exp" in claims and at >= claims["exp"]:
        raise TokenExpired("Signature has expired.")
    if "nbf" in claims and at < claims["nbf"]:
        raise ClaimsRejected("The token is not yet valid (nbf)")


_JSON_TYPE = {
    "list": "array",
    "dict": "object",
    "int": "number",
    "float": "number",
    "bool": "boolean",
    "NoneType": "null",
}


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: dict[str, Any]
    key: VerificationKey
    not_before: float
    expires: float


class VerifiedTokens:
    """Claims of tokens that passed :func:`verify`, kept until they expire.

    A client sends one access token with every request for its whole life, and checking it
    through python-jose costs about 0.4 ms of CPU each time (the ES256 signature, three
    parses of the header, loading the PEM key, the claim checks): more than the rest of a
    plain authenticated read. Only tokens that passed every check are kept, keyed by the
    whole token string and the checks asked for; a hit must still find the same key under
    the token's ``kid`` and is refused past ``exp`` (or before ``nbf``) by the clock, as
    :func:`verify` would. Entries are dropped oldest first past ``capacity``.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self,
        token: str,
        *,
        keys: Mapping[str, VerificationKey],
        typ: str,
        issuer: str,
        audience: str | None,
        required: tuple[str, ...],
    ) -> dict[str, Any]:
        """:func:`verify`'s answer, from a kept result when this token passed before."""
        entry_key = (token, typ, issuer, audience, required)
        with self._lock:
            kept = self._entries.get(entry_key)
        if kept is not None and keys.get(kept.key.kid) == kept.key:
            if not kept.not_before <= time.time() < kept.expires:
                raise TokenExpired("Signature has expired.")
            return dict(kept.claims)
        claims = verify(
            token, keys=keys, typ=typ, issuer=issuer, audience=audience, required=required
        )
        if "exp" in claims:
            key = keys[jwt.get_unverified_header(token)["kid"]]
            kept = _Verified(
                claims=dict(claims),
                key=key,
                not_before=float(claims.get("nbf", float("-inf"))),
                expires=float(claims["exp"]),
            )
            with self._lock:
                self._entries[entry_key] = kept
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
        return claims


def jwks(keys: Mapping[str, VerificationKey]) -> dict[str, list[dict[str, str]]]:
    """The public halves, as a JWK Set."""
    return {"keys": [key.public_jwk for key in keys.values()]}
