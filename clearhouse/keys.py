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


@dataclass(frozen=True)
class SigningKey:
    """One ES256 key pair, for exactly one purpose (``use``)."""

    purpose: str
    private_pem: str = field(repr=False)
    public_pem: str
    public_jwk: dict[str, str]

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]

    @classmethod
    def from_private_pem(cls, purpose: str, pem: str) -> "SigningKey":
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"the {purpose} key must be an EC P-256 private key (ES256)")
        numbers = key.public_key().public_numbers()
        coordinates = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }
        # RFC 7638: SHA-256 over the required members, sorted, with no whitespace.
        canonical = json.dumps(coordinates, sort_keys=True, separators=(",", ":")).encode()
        kid = _b64url(hashlib.sha256(canonical).digest())
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        jwk = {**coordinates, "kid": kid, "alg": "ES256", "use": "sig"}
        return cls(purpose=purpose, private_pem=pem, public_pem=public_pem, public_jwk=jwk)


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
    """The keys in force: one for access tokens, one for consent receipts."""

    access: SigningKey
    receipts: SigningKey

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
    def receipt_keys(self) -> dict[str, SigningKey]:
        return {self.receipts.kid: self.receipts}
