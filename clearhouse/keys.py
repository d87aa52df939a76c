"""The platform's signing keys: ES256 (P-256) keys, one per purpose.

A key comes from settings (PEM) or from a file in the data dir, generated on first start and
written with mode 0600. Its ``kid`` is the RFC 7638 thumbprint of its public JWK, so a
verifier can pick the key from ``/.well-known/jwks.json`` without trusting anything else.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from clearhouse.settings import Settings


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    coordinates = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }
    # RFC 7638: SHA-256 over the required members, sorted, with no whitespace.
    canonical = json.dumps(coordinates, sort_keys=True, separators=(",", ":")).encode()
    kid = _b64url(hashlib.sha256(canonical).digest())
    return {**coordinates, "kid": kid, "alg": "ES256", "use": "sig"}


def _public_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass(frozen=True)
class VerificationKey:
    """The public half of a key: enough to check what it signed, also after it retired."""

    purpose: str
    public_pem: str
    public_jwk: dict[str, str]

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]

    @classmethod
    def from_public_jwk(cls, purpose: str, jwk: dict[str, str]) -> "VerificationKey":
        def coordinate(name: str) -> int:
            return int.from_bytes(base64.urlsafe_b64decode(jwk[name] + "=" * (-len(jwk[name]) % 4)))

        key = ec.EllipticCurvePublicNumbers(
            coordinate("x"), coordinate("y"), ec.SECP256R1()
        ).public_key()
        return cls(purpose=purpose, public_pem=_public_pem(key), public_jwk=_public_jwk(key))


@dataclass(frozen=True)
class SigningKey(VerificationKey):
    """One ES256 key pair, for exactly one purpose."""

    private_pem: str = field(repr=False)

    @classmethod
    def from_private_pem(cls, purpose: str, pem: str) -> "SigningKey":
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"the {purpose} key must be an EC P-256 private key (ES256)")
        public = key.public_key()
        return cls(
            purpose=purpose,
            private_pem=pem,
            public_pem=_public_pem(public),
            public_jwk=_public_jwk(public),
        )


def generate_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_or_create_key(*, purpose: str, pem: str | None, key_dir: Path) -> SigningKey:
    """The key given in settings, else the key file for ``purpose``, created 0600 if missing."""
    if pem:
        return SigningKey.from_private_pem(purpose, pem)
    path = key_dir / f"{purpose}-es256.pem"
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_private_pem())
    return SigningKey.from_private_pem(purpose, path.read_text())


@dataclass(frozen=True)
class KeyRing:
    """The keys in force (one for access tokens, one for receipts and audit checkpoints) and
    the retired receipt keys, whose public halves still verify what they once signed."""

    access: SigningKey
    receipts: SigningKey
    retired_receipts: dict[str, VerificationKey] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: "Settings") -> "KeyRing":
        return cls(
            access=load_or_create_key(
                purpose="access-token", pem=settings.access_token_key_pem, key_dir=settings.key_dir
            ),
            receipts=load_or_create_key(
                purpose="receipt", pem=settings.receipt_key_pem, key_dir=settings.key_dir
            ),
        )

    @property
    def access_keys(self) -> dict[str, SigningKey]:
        return {self.access.kid: self.access}

    @property
    def receipt_keys(self) -> dict[str, VerificationKey]:
        return {**self.retired_receipts, self.receipts.kid: self.receipts}
