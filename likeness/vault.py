"""The template vault: sealed face templates in the database, one data key per likeness.

Plain embeddings exist only in memory (the face index, a request being served). Shredding a
likeness deletes its wrapped data key with its template rows and kept media: any copy of
those rows that survives (a backup) can no longer be decrypted by anyone.
"""

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime

import numpy as np
from sqlmodel import Session, col, delete, select, update

from clearhouse.db import utcnow
from likeness import vault_crypto
from likeness.index import FaceTemplate
from likeness.models import (
    EnrolmentMedia,
    FaceIndexGeneration,
    FaceTemplateRecord,
    LikenessKey,
    TemplateStatus,
)
from likeness.vault_crypto import DataKey, MasterKey


def data_key(session: Session, *, likeness_id: uuid.UUID, master_key: MasterKey) -> DataKey:
    """The likeness's data key, made (and stored wrapped) the first time it is needed."""
    row = session.get(LikenessKey, likeness_id)
    if row is None:
        key, wrapped = vault_crypto.new_data_key(master_key=master_key, likeness_id=likeness_id)
        session.add(LikenessKey(likeness_id=likeness_id, wrapped_data_key=wrapped))
        session.flush()
        return key
    return vault_crypto.unwrap_data_key(
        master_key=master_key, likeness_id=likeness_id, wrapped=row.wrapped_data_key
    )


def seal_templates(
    session: Session,
    *,
    likeness_id: uuid.UUID,
    model_key: str,
    embeddings: np.ndarray,
    status: TemplateStatus,
    master_key: MasterKey,
) -> list[FaceTemplate]:
    """Store each embedding sealed; return them as index entries (for after the commit)."""
    key = data_key(session, likeness_id=likeness_id, master_key=master_key)
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
    master_key: MasterKey,
    status: TemplateStatus = TemplateStatus.active,
    likeness_id: uuid.UUID | None = None,
) -> Iterator[FaceTemplate]:
    """Decrypt templates (all active ones by default), for the index or an activation."""
    query = (
        select(FaceTemplateRecord, LikenessKey.wrapped_data_key)
        .join(LikenessKey, LikenessKey.likeness_id == FaceTemplateRecord.likeness_id)
        .where(FaceTemplateRecord.status == status)
        .order_by(FaceTemplateRecord.likeness_id)
    )
    if likeness_id is not None:
        query = query.where(FaceTemplateRecord.likeness_id == likeness_id)
    keys: dict[uuid.UUID, DataKey] = {}
    for record, wrapped in session.exec(query):
        if record.likeness_id not in keys:
            keys[record.likeness_id] = vault_crypto.unwrap_data_key(
                master_key=master_key, likeness_id=record.likeness_id, wrapped=wrapped
            )
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
    master_key: MasterKey,
) -> None:
    """Seal raw enrolment media the owner chose to keep, under the likeness's data key."""
    key = data_key(session, likeness_id=likeness_id, master_key=master_key)
    for upload in uploads:
        media = EnrolmentMedia(enrolment_id=enrolment_id, likeness_id=likeness_id, sealed=b"")
        media.sealed = vault_crypto.seal_media(data_key=key, media_id=media.id, data=upload)
        session.add(media)


def shred(session: Session, *, likeness_id: uuid.UUID) -> int:
    """Destroy the likeness's data key, templates and kept media. Returns templates removed."""
    removed = session.exec(
        delete(FaceTemplateRecord).where(FaceTemplateRecord.likeness_id == likeness_id)
    ).rowcount
    session.exec(delete(EnrolmentMedia).where(EnrolmentMedia.likeness_id == likeness_id))
    session.exec(delete(LikenessKey).where(LikenessKey.likeness_id == likeness_id))
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


def likenesses_with_keys(session: Session, likeness_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these still have a data key (not shredded): the database is the truth."""
    if not likeness_ids:
        return set()
    return set(
        session.exec(
            select(LikenessKey.likeness_id).where(col(LikenessKey.likeness_id).in_(likeness_ids))
        )
    )


def index_generation(session: Session) -> int:
    return session.exec(select(FaceIndexGeneration.generation)).one()


def lock_index_generation(session: Session) -> int:
    """Wait for, then hold until commit, the lock every change to the active templates takes.

    On PostgreSQL a row lock; on SQLite the write transaction holds the database already.
    """
    return session.exec(select(FaceIndexGeneration.generation).with_for_update()).one()


def advance_index_generation(session: Session) -> int:
    """Count one change to the active templates, in the caller's transaction (row-locked)."""
    session.exec(update(FaceIndexGeneration).values(generation=FaceIndexGeneration.generation + 1))
    return index_generation(session)
