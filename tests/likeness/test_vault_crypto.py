"""Face templates are sealed per likeness and bound to their row. Shredding: test_key_store.py."""

import base64
import os
import stat
import uuid
from pathlib import Path

import numpy as np
import pytest

from likeness.vault_crypto import (
    DataKeyUnwrapError,
    MasterKey,
    MasterKeyError,
    TemplateDecryptionError,
    decrypt_template,
    embedding_from_bytes,
    embedding_to_bytes,
    encrypt_template,
    generate_master_key,
    load_master_key,
    new_data_key,
    unwrap_data_key,
)

DLIB = "dlib/resnet-v1"


def master_key() -> MasterKey:
    return load_master_key(key_b64=generate_master_key())


def face_embedding(seed: int = 0) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return vector / np.linalg.norm(vector)


def sealed_row(*, master: MasterKey, seed: int = 0) -> dict:
    """One likeness's stored rows: its wrapped data key and one sealed template."""
    likeness_id, template_id = uuid.uuid4(), uuid.uuid4()
    data_key, wrapped = new_data_key(master_key=master, likeness_id=likeness_id)
    embedding = face_embedding(seed)
    sealed = encrypt_template(
        data_key=data_key,
        likeness_id=likeness_id,
        template_id=template_id,
        model_key=DLIB,
        embedding=embedding,
    )
    return {
        "likeness_id": likeness_id,
        "template_id": template_id,
        "wrapped": wrapped,
        "sealed": sealed,
        "embedding": embedding,
    }


def open_row(*, master: MasterKey, row: dict, **changes: object) -> np.ndarray:
    row = {**row, **changes}
    data_key = unwrap_data_key(
        master_key=master, likeness_id=row["likeness_id"], wrapped=row["wrapped"]
    )
    return decrypt_template(
        data_key=data_key,
        likeness_id=row["likeness_id"],
        template_id=row["template_id"],
        model_key=row.get("model_key", DLIB),
        sealed=row["sealed"],
    )


def test_round_trip_returns_the_exact_embedding() -> None:
    master = master_key()
    row = sealed_row(master=master)
    assert np.array_equal(open_row(master=master, row=row), row["embedding"])
    assert embedding_to_bytes(row["embedding"])[:4] == row["embedding"][:1].astype("<f4").tobytes()
    assert np.array_equal(
        embedding_from_bytes(embedding_to_bytes(row["embedding"])), row["embedding"]
    )


def test_stored_bytes_reveal_no_part_of_the_embedding() -> None:
    master = master_key()
    row = sealed_row(master=master)
    plain = embedding_to_bytes(row["embedding"])
    stored = row["sealed"] + row["wrapped"]
    windows = {plain[start : start + 16] for start in range(len(plain) - 15)}
    assert not any(window in stored for window in windows)
    # Two sealings of the same embedding differ: a fresh nonce each time.
    data_key = unwrap_data_key(
        master_key=master, likeness_id=row["likeness_id"], wrapped=row["wrapped"]
    )
    again = encrypt_template(
        data_key=data_key,
        likeness_id=row["likeness_id"],
        template_id=row["template_id"],
        model_key=DLIB,
        embedding=row["embedding"],
    )
    assert again != row["sealed"]


def test_a_ciphertext_moved_to_another_row_does_not_open() -> None:
    master = master_key()
    row = sealed_row(master=master)
    with pytest.raises(TemplateDecryptionError, match="does not decrypt"):
        open_row(master=master, row=row, template_id=uuid.uuid4())
    with pytest.raises(TemplateDecryptionError):
        open_row(master=master, row=row, model_key="insightface/w600k_r50")
    # Another likeness's key row and template row together: the template's AAD names the
    # first likeness, so it fails even with a key that unwraps.
    other = sealed_row(master=master, seed=1)
    with pytest.raises(TemplateDecryptionError):
        open_row(master=master, row={**other, "sealed": row["sealed"]})
    # The first likeness's wrapped key copied onto another likeness does not unwrap.
    with pytest.raises(DataKeyUnwrapError):
        open_row(master=master, row=other, wrapped=row["wrapped"])


def test_tampered_ciphertext_or_key_does_not_open() -> None:
    master = master_key()
    row = sealed_row(master=master)
    for field_name in ("sealed", "wrapped"):
        for position in (1, len(row[field_name]) // 2, len(row[field_name]) - 1):
            tampered = bytearray(row[field_name])
            tampered[position] ^= 0x01
            with pytest.raises((TemplateDecryptionError, DataKeyUnwrapError)):
                open_row(master=master, row=row, **{field_name: bytes(tampered)})
    with pytest.raises(TemplateDecryptionError, match="corrupt"):
        open_row(master=master, row=row, sealed=row["sealed"][:10])


def test_another_master_key_does_not_unwrap() -> None:
    row = sealed_row(master=master_key())
    with pytest.raises(DataKeyUnwrapError, match="does not open with master key"):
        open_row(master=master_key(), row=row)


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "template-master.key"
    first = load_master_key(key_file=key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    assert load_master_key(key_file=key_file) == first
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind
    row = sealed_row(master=first)
    assert np.array_equal(
        open_row(master=load_master_key(key_file=key_file), row=row), row["embedding"]
    )
    os.chmod(key_file, 0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_master_key(key_file=key_file)


def test_malformed_master_keys_are_refused() -> None:
    with pytest.raises(MasterKeyError, match="not valid base64"):
        load_master_key(key_b64="not base64!")
    with pytest.raises(MasterKeyError, match="16 bytes"):
        load_master_key(key_b64=base64.b64encode(b"x" * 16).decode())
    with pytest.raises(MasterKeyError, match="give the master key"):
        load_master_key()


def test_bad_embeddings_are_not_sealed() -> None:
    master = master_key()
    likeness_id = uuid.uuid4()
    data_key, _ = new_data_key(master_key=master, likeness_id=likeness_id)
    for bad in (np.array([np.nan, 1.0]), np.zeros((2, 2)), np.array([])):
        with pytest.raises(ValueError):
            encrypt_template(
                data_key=data_key,
                likeness_id=likeness_id,
                template_id=uuid.uuid4(),
                model_key=DLIB,
                embedding=bad,
            )
