"""Secrets the platform keeps only because it must use them again (a webhook endpoint signs each
delivery with its secret), sealed at rest: AES-256-GCM in the face vault's sealed format, under
a key derived (HKDF-SHA256) from the master key that wraps the likeness data keys. That key is
kept out of the database (settings or its 0600 file), so a copy or backup of the database holds
no usable secret; associated data names the purpose and the row, so a sealed value copied onto
another row does not open."""

import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from clearhouse.settings import Settings
from likeness.vault_crypto import (
    KEY_BYTES,
    MasterKey,
    VaultCryptoError,
    load_master_key,
    open_sealed_bytes,
    seal_bytes,
)

_DERIVATION = b"clearhouse/sealed-secrets/v1"


class SealedSecretError(VaultCryptoError):
    """A sealed secret did not open: another master key, another row, or tampering."""


def configured_master_key(settings: Settings) -> MasterKey:
    """The master key the settings give, else the one in the data dir's key file."""
    return load_master_key(**_master_key_source(settings))


def _master_key_source(settings: Settings) -> dict:
    return {
        "key_b64": settings.face_master_key,
        "key_file": None if settings.face_master_key else settings.key_dir / "face-master.key",
    }


@dataclass(frozen=True)
class SecretSealer:
    key: bytes = field(repr=False)

    @classmethod
    def from_master_key(cls, master_key: MasterKey) -> "SecretSealer":
        # A key of its own, not the master key itself: what seals these secrets never wraps
        # a likeness's data key, and the other way round.
        derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_DERIVATION)
        return cls(key=derived.derive(master_key.key))

    def seal(self, secret: str, *, purpose: str, row_id: uuid.UUID) -> bytes:
        return seal_bytes(self.key, secret.encode(), _aad(purpose, row_id))

    def open(self, sealed: bytes, *, purpose: str, row_id: uuid.UUID) -> str:
        try:
            return open_sealed_bytes(self.key, sealed, _aad(purpose, row_id)).decode()
        except InvalidTag as error:
            raise SealedSecretError(
                f"the {purpose} of {row_id} does not open: the master key is not the one it was "
                "sealed with, or the value belongs to another row or was altered"
            ) from error


def _aad(purpose: str, row_id: uuid.UUID) -> bytes:
    # The id has a fixed length and comes first, so the encoding is unambiguous.
    return _DERIVATION + b"\x00" + row_id.bytes + purpose.encode()


def secret_sealer(settings: Settings) -> SecretSealer:
    """The sealer of this installation's secrets (its master key read once per process)."""
    return _sealer(**_master_key_source(settings))


@cache
def _sealer(key_b64: str | None, key_file: Path | None) -> SecretSealer:
    return SecretSealer.from_master_key(load_master_key(key_b64=key_b64, key_file=key_file))
