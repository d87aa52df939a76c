"""The template vault: sealed face templates in the database, one data key per likeness.

Plain embeddings exist only in memory (the face index, a request being served). Data keys
live only in the likeness key store, apart from the database. Shredding a likeness destroys
its key there and deletes its template rows and kept media: any copy of those rows that
survives (a database backup) can no longer be decrypted by anyone. A template whose
likeness has no key in the store is treated as shredded wherever it is read.
"""

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import numpy as np
from sqlmodel import Session, col, delete, select, update

from clearhouse.changes import FACE_INDEX, announce
from clearhouse.db import utcnow
from likeness import vault_crypto
from likeness.index import FaceTemplate
from likeness.key_store import LikenessKeyStore
from likeness.models import (
    EnrolmentMedia,
    FaceIndexGeneration,
    FaceTemplateRecord,
    LikenessKey,
    TemplateStatus,
)
from likeness.vault_crypto import DataKey

logger = logging.getLogger(__name__)


def data_key(session: Session, *, likeness_id: uuid.UUID, key_store: LikenessKeyStore) -> DataKey:
    """The likeness's data key, made in the key store the first time it is needed.

    A likeness the database knows but the key store does not was shredded after the backup
    this database was restored from: its sealed rows can never open again, so they are
    purged before a new key is made for a new enrolment.
    """
    key = key_store.get(likeness_id)
    row = session.get(LikenessKey, likeness_id)
    if key is None and row is not None:
        _delete_sealed_rows(session, likeness_id=likeness_id)
    if key is None:
        key = key_store.put(likeness_id)
    if row is None:
        session.add(LikenessKey(likeness_id=likeness_id))
    session.flush()
    return key


def seal_templates(
    session: Session,
    *,
    likeness_id: uuid.UUID,
    model_key: str,
    embeddings: np.ndarray,
    status: TemplateStatus,
    key_store: LikenessKeyStore,
) -> list[FaceTemplate]:
    """Store each embedding sealed; return them as index entries (for after the commit)."""
    key = data_key(session, likeness_id=likeness_id, key_store=key_store)
    templates = []
    for embedding in embeddings:
        record = FaceTemplateRecord(
            likeness_id=likeness_id, model_key=model_key, status=status, sealed=b""
        )
        record.sealed = vault_crypto.encrypt_template(
            data_key=key,
            likeness_id=likeness_id,
            template_id=record.id,
            model_key=model_key,
            embedding=embedding,
        )
        session.add(record)
        templates.append(
            FaceTemplate(
                template_id=record.id,
                likeness_id=likeness_id,
                model_key=model_key,
                embedding=embedding,
            )
        )
    session.flush()
    return templates


def open_templates(
    session: Session,
    *,
    key_store: LikenessKeyStore,
    status: TemplateStatus = TemplateStatus.active,
    likeness_id: uuid.UUID | None = None,
    keep: Callable[[uuid.UUID], bool] | None = None,
) -> Iterator[FaceTemplate]:
    """Decrypt templates (all active ones by default), for the index or an activation;
    ``keep``: only those of the likenesses it keeps (one index shard's), the others' keys
    neither unwrapped nor their templates decrypted.

    Templates of a likeness whose key is gone from the key store are skipped: it was
    shredded, and this database was restored from a backup taken before that.
    """
    chosen = [FaceTemplateRecord.status == status]
    if likeness_id is not None:
        chosen.append(FaceTemplateRecord.likeness_id == likeness_id)
    likeness_ids = session.exec(
        select(FaceTemplateRecord.likeness_id).where(*chosen).distinct()
    ).all()
    if keep is not None:
        likeness_ids = [found for found in likeness_ids if keep(found)]
    keys = key_store.get_many(likeness_ids)
    shredded = set(likeness_ids) - set(keys)
    if shredded:
        logger.warning(
            "%d likeness(es) have sealed templates but no data key in the key store (shredded "
            "after the backup this database came from); their templates are skipped",
            len(shredded),
        )
    for record in session.exec(select(FaceTemplateRecord).where(*chosen)):
        if record.likeness_id not in keys:  # shredded, or not kept
            continue
        embedding = vault_crypto.decrypt_template(
            data_key=keys[record.likeness_id],
            likeness_id=record.likeness_id,
            template_id=record.id,
            model_key=record.model_key,
            sealed=record.sealed,
        )
        yield FaceTemplate(
            template_id=record.id,
            likeness_id=record.likeness_id,
            model_key=record.model_key,
            embedding=embedding,
        )


def activate_templates(session: Session, *, likeness_id: uuid.UUID) -> None:
    for record in session.exec(
        select(FaceTemplateRecord).where(
            FaceTemplateRecord.likeness_id == likeness_id,
            FaceTemplateRecord.status == TemplateStatus.pending,
        )
    ):
        record.status = TemplateStatus.active
        session.add(record)


def discard_pending_templates(session: Session, *, likeness_id: uuid.UUID) -> None:
    session.exec(
        delete(FaceTemplateRecord).where(
            FaceTemplateRecord.likeness_id == likeness_id,
            FaceTemplateRecord.status == TemplateStatus.pending,
        )
    )


def keep_media(
    session: Session,
    *,
    likeness_id: uuid.UUID,
    enrolment_id: uuid.UUID,
    uploads: Sequence[bytes],
    key_store: LikenessKeyStore,
) -> None:
    """Seal raw enrolment media the owner chose to keep, under the likeness's data key."""
    key = data_key(session, likeness_id=likeness_id, key_store=key_store)
    for upload in uploads:
        media = EnrolmentMedia(enrolment_id=enrolment_id, likeness_id=likeness_id, sealed=b"")
        media.sealed = vault_crypto.seal_media(data_key=key, media_id=media.id, data=upload)
        session.add(media)


def shred(session: Session, *, likeness_id: uuid.UUID, key_store: LikenessKeyStore) -> int:
    """Destroy the likeness's data key, templates and kept media. Returns templates removed.

    The key is destroyed at once, before the caller's transaction commits: should that
    transaction roll back, the likeness keeps rows nobody can open (shredded all the same,
    and a retried deletion removes them), whereas a key destroyed only after the commit
    would outlive a crash in between.
    """
    key_store.destroy(likeness_id)
    removed = _delete_sealed_rows(session, likeness_id=likeness_id)
    session.exec(delete(LikenessKey).where(LikenessKey.likeness_id == likeness_id))
    return removed


def _delete_sealed_rows(session: Session, *, likeness_id: uuid.UUID) -> int:
    removed = session.exec(
        delete(FaceTemplateRecord).where(FaceTemplateRecord.likeness_id == likeness_id)
    ).rowcount
    session.exec(delete(EnrolmentMedia).where(EnrolmentMedia.likeness_id == likeness_id))
    return removed


def record_activity(session: Session, *, likeness_ids: Sequence[uuid.UUID]) -> None:
    if likeness_ids:
        for row in session.exec(
            select(LikenessKey).where(col(LikenessKey.likeness_id).in_(likeness_ids))
        ):
            row.last_activity_at = utcnow()
            session.add(row)


def idle_likenesses(session: Session, *, idle_since: datetime) -> list[uuid.UUID]:
    return list(
        session.exec(
            select(LikenessKey.likeness_id).where(LikenessKey.last_activity_at < idle_since)
        )
    )


def likenesses_with_keys(
    likeness_ids: Sequence[uuid.UUID], *, key_store: LikenessKeyStore
) -> set[uuid.UUID]:
    """Which of these still have a data key (not shredded): the key store is the truth, so a
    database restored from an older backup does not bring a deleted face back."""
    if not likeness_ids:
        return set()
    return set(key_store.get_many(likeness_ids))


def index_generation(session: Session) -> int:
    return session.exec(select(FaceIndexGeneration.generation)).one()


def lock_index_generation(session: Session) -> int:
    """Wait for, then hold until commit, the lock every change to the active templates takes.

    On PostgreSQL a row lock; on SQLite the write transaction holds the database already.
    """
    return session.exec(select(FaceIndexGeneration.generation).with_for_update()).one()


def advance_index_generation(session: Session) -> int:
    """Count one change to the active templates, in the caller's transaction (row-locked),
    and tell every process at commit."""
    session.exec(update(FaceIndexGeneration).values(generation=FaceIndexGeneration.generation + 1))
    announce(session, FACE_INDEX)
    return index_generation(session)
