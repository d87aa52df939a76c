"""Envelope encryption of face templates: AES-256-GCM under a per-likeness data key.

Each likeness gets a random 256-bit data key. The data key is stored only wrapped by the
platform's master key, in the likeness key store (likeness/key_store.py), never in the main
database; each template is encrypted with its likeness's data key, a random 96-bit nonce,
and associated data naming the likeness, the template and the embedding model, so a
ciphertext copied onto another row does not decrypt. Deleting a likeness destroys its data
key in the key store: with it gone nothing, not even the master key, decrypts that
likeness's templates (crypto-shredding), whatever copies of the template rows survive in
database backups.

Everything here is a pure function over bytes; the vault's tables and the key store keep
the results.
"""

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = 1
_VERSION_BYTE = FORMAT_VERSION.to_bytes(1, "big")
_DATA_KEY_CONTEXT = b"clearhouse/likeness-data-key/v1\x00"
_TEMPLATE_CONTEXT = b"clearhouse/face-template/v1\x00"
_MEDIA_CONTEXT = b"clearhouse/enrolment-media/v1\x00"
_EMBEDDING_DTYPE = np.dtype("<f4")


class VaultCryptoError(Exception):
    """Base of the template vault's cryptographic errors."""


class MasterKeyError(VaultCryptoError):
    """The master key is missing, malformed, or its file is unsafe."""


class DataKeyUnwrapError(VaultCryptoError):
    """A wrapped data key did not open: another master key, another likeness, or tampering."""


class TemplateDecryptionError(VaultCryptoError):
    """A sealed template did not open: another row's ciphertext, another key, or tampering."""


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every data key. ``key_id`` names it without revealing it."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise MasterKeyError(f"the master key must be {KEY_BYTES} bytes, not {len(self.key)}")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"clearhouse/master-key-id\x00" + self.key).hexdigest()[:16]


@dataclass(frozen=True)
class DataKey:
    """A likeness's plaintext data key; held in memory only, stored only wrapped."""

    likeness_id: UUID
    key: bytes = field(repr=False)


def generate_master_key() -> str:
    """A fresh master key, base64-encoded, for settings or a key file."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _decode_master_key(encoded: str, *, source: str) -> MasterKey:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise MasterKeyError(f"the master key from {source} is not valid base64") from error
    if len(key) != KEY_BYTES:
        raise MasterKeyError(
            f"the master key from {source} decodes to {len(key)} bytes; it must be {KEY_BYTES} "
            "(generate one with generate_master_key())"
        )
    return MasterKey(key=key)


def load_master_key(*, key_b64: str | None = None, key_file: Path | None = None) -> MasterKey:
    """The master key given (base64), else the one in ``key_file``, created 0600 if missing.

    The file is written under a temporary name opened with O_EXCL and then hard-linked into
    place, so two processes starting together agree on one key and neither reads a
    half-written file. Like ssh with a private key, a file others can read is refused.
    """
    if key_b64:
        return _decode_master_key(key_b64, source="the given value")
    if key_file is None:
        raise MasterKeyError("give the master key (base64) or the path of its key file")
    path = Path(key_file)
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError(
            f"master key file {path} has mode {mode:04o}; others must not read it: chmod 600 it"
        )
    return _decode_master_key(path.read_text(), source=str(path))


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate_master_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # A key file that appeared meanwhile wins; this process then reads it.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# Wrapping uses AES-256-GCM rather than AES-KW (RFC 3394): GCM takes associated data, so a
# wrapped key is bound to its likeness id and a wrapped-key row moved to another likeness
# fails to open; AES-KW has no associated data. One random 96-bit nonce per wrap is safe
# far beyond the number of likenesses (NIST's 2^32 invocations per key).
def _data_key_aad(likeness_id: UUID) -> bytes:
    return _DATA_KEY_CONTEXT + likeness_id.bytes


def new_data_key(*, master_key: MasterKey, likeness_id: UUID) -> tuple[DataKey, bytes]:
    """A fresh data key for a likeness, and its wrapped form, the only form to store."""
    data_key = DataKey(likeness_id=likeness_id, key=AESGCM.generate_key(bit_length=256))
    nonce = secrets.token_bytes(NONCE_BYTES)
    wrapped = AESGCM(master_key.key).encrypt(nonce, data_key.key, _data_key_aad(likeness_id))
    return data_key, _VERSION_BYTE + nonce + wrapped


def unwrap_data_key(*, master_key: MasterKey, likeness_id: UUID, wrapped: bytes) -> DataKey:
    """The likeness's data key, opened with the master key."""
    if len(wrapped) != 1 + NONCE_BYTES + KEY_BYTES + 16 or wrapped[:1] != _VERSION_BYTE:
        raise DataKeyUnwrapError(
            f"the wrapped data key of likeness {likeness_id} is not a version-{FORMAT_VERSION} "
            "wrapped key; the row is corrupt"
        )
    nonce, body = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
    try:
        key = AESGCM(master_key.key).decrypt(nonce, body, _data_key_aad(likeness_id))
    except InvalidTag as error:
        raise DataKeyUnwrapError(
            f"the data key of likeness {likeness_id} does not open with master key "
            f"{master_key.key_id}: the master key is not the one it was wrapped with, or the "
            "wrapped key belongs to another likeness or was altered"
        ) from error
    return DataKey(likeness_id=likeness_id, key=key)


def embedding_to_bytes(embedding: npt.ArrayLike) -> bytes:
    """A 1-D embedding as float32 little-endian bytes, whatever the host's byte order."""
    vector = np.asarray(embedding)
    if vector.ndim != 1 or vector.shape[0] == 0:
        raise ValueError(f"an embedding is a non-empty 1-D vector, not shape {vector.shape}")
    if not np.isfinite(vector).all():
        raise ValueError("an embedding with NaN or infinity cannot be stored; re-run the model")
    return vector.astype(_EMBEDDING_DTYPE).tobytes()


def embedding_from_bytes(data: bytes) -> npt.NDArray[np.float32]:
    """The inverse of :func:`embedding_to_bytes`, as a native float32 vector."""
    if len(data) == 0 or len(data) % _EMBEDDING_DTYPE.itemsize:
        raise ValueError(f"{len(data)} bytes are not a whole float32 embedding")
    return np.frombuffer(data, dtype=_EMBEDDING_DTYPE).astype(np.float32)


def _template_aad(*, likeness_id: UUID, template_id: UUID, model_key: str) -> bytes:
    # Both ids have a fixed length and the model key comes last, so the encoding is
    # unambiguous without separators.
    return _TEMPLATE_CONTEXT + likeness_id.bytes + template_id.bytes + model_key.encode()


def encrypt_template(
    *,
    data_key: DataKey,
    likeness_id: UUID,
    template_id: UUID,
    model_key: str,
    embedding: npt.ArrayLike,
) -> bytes:
    """The embedding sealed for storage: version, random nonce, ciphertext and tag."""
    if data_key.likeness_id != likeness_id:
        raise VaultCryptoError(
            f"the data key of likeness {data_key.likeness_id} cannot seal a template of "
            f"likeness {likeness_id}; unwrap that likeness's own key"
        )
    aad = _template_aad(likeness_id=likeness_id, template_id=template_id, model_key=model_key)
    return _seal(data_key, embedding_to_bytes(embedding), aad)


def decrypt_template(
    *,
    data_key: DataKey,
    likeness_id: UUID,
    template_id: UUID,
    model_key: str,
    sealed: bytes,
) -> npt.NDArray[np.float32]:
    """The embedding of a sealed template row, or :class:`TemplateDecryptionError`."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != _VERSION_BYTE:
        raise TemplateDecryptionError(
            f"template {template_id} is not a version-{FORMAT_VERSION} sealed template; "
            "the row is corrupt"
        )
    aad = _template_aad(likeness_id=likeness_id, template_id=template_id, model_key=model_key)
    try:
        plaintext = _open(data_key, sealed, aad)
    except InvalidTag as error:
        raise TemplateDecryptionError(
            f"template {template_id} of likeness {likeness_id} ({model_key}) does not decrypt: "
            "the ciphertext belongs to another row, the data key is another likeness's, or "
            "the row was altered"
        ) from error
    return embedding_from_bytes(plaintext)


def _seal(data_key: DataKey, plaintext: bytes, aad: bytes) -> bytes:
    return seal_bytes(data_key.key, plaintext, aad)


def _open(data_key: DataKey, sealed: bytes, aad: bytes) -> bytes:
    return open_sealed_bytes(data_key.key, sealed, aad)


def seal_bytes(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Version byte, random 96-bit nonce, then AES-256-GCM ciphertext and tag; the format of
    every sealed row (templates, kept media, the platform's own secrets)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _VERSION_BYTE + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed_bytes(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of :func:`seal_bytes`; InvalidTag if key, associated data or bytes differ."""
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    return AESGCM(key).decrypt(nonce, body, aad)


def seal_media(*, data_key: DataKey, media_id: UUID, data: bytes) -> bytes:
    """Raw enrolment media the owner chose to keep, sealed under the likeness's data key."""
    return _seal(data_key, data, _MEDIA_CONTEXT + data_key.likeness_id.bytes + media_id.bytes)


def open_media(*, data_key: DataKey, media_id: UUID, sealed: bytes) -> bytes:
    try:
        return _open(data_key, sealed, _MEDIA_CONTEXT + data_key.likeness_id.bytes + media_id.bytes)
    except InvalidTag as error:
        raise TemplateDecryptionError(f"kept media {media_id} does not decrypt") from error
