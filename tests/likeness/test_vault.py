"""The template vault: no embedding is stored in the clear, kept enrolment photos are
sealed, and deletion or retention destroys templates, photos and key. The real dlib model
on the photos in ../shared/data/faces (Barack Obama three times, Joe Biden once)."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from enrolling import OBAMA, enrol, matched, photo, scan
from factories import create_asset
from sqlmodel import select

from clearhouse.db import utcnow
from likeness import vault, vault_crypto
from likeness.models import EnrolmentMedia, FaceTemplateRecord, LikenessKey
from likeness.tasks import destroy_idle_templates

pytestmark = pytest.mark.still_photos


def test_the_vault_holds_no_embedding_and_deletion_shreds_it(client, holder, session, engine):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA, keep_media=True)
    runtime = client.app.state.likeness
    likeness_id = uuid.UUID(asset["id"])
    embeddings = [
        t.embedding
        for t in vault.open_templates(session, key_store=runtime.key_store, likeness_id=likeness_id)
    ]
    assert len(embeddings) == 3
    rows = session.exec(select(FaceTemplateRecord)).all()
    stored = b"".join(row.sealed for row in rows)
    for embedding in embeddings:
        raw = vault_crypto.embedding_to_bytes(embedding)
        assert not any(raw[i : i + 16] in stored for i in range(0, len(raw) - 16, 4))
    if engine.dialect.name == "sqlite":  # the whole database file, pages and WAL
        database = Path(engine.url.database)
        on_disk = database.read_bytes() + Path(f"{database}-wal").read_bytes()
        raw = vault_crypto.embedding_to_bytes(embeddings[0])
        assert raw[:16] not in on_disk
    kept = session.exec(select(EnrolmentMedia)).all()
    assert len(kept) == 3  # the owner asked to keep the photos: sealed, and only that
    key = vault.data_key(session, likeness_id=likeness_id, key_store=runtime.key_store)
    opened = {vault_crypto.open_media(data_key=key, media_id=m.id, sealed=m.sealed) for m in kept}
    assert opened == {photo(name) for name in OBAMA}
    assert all(photo("obama.jpg")[:64] not in m.sealed for m in kept)
    session.commit()

    assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
    session.expire_all()
    assert session.get(LikenessKey, likeness_id) is None
    assert session.exec(select(FaceTemplateRecord)).all() == []
    assert session.exec(select(EnrolmentMedia)).all() == []
    assert runtime.key_store.get(likeness_id) is None  # tests/likeness/test_key_store.py
    session.commit()
    assert matched(scan(client, holder, "obama.jpg")) == set()


def test_retention_destroys_idle_templates(client, holder, session):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    key = session.get(LikenessKey, uuid.UUID(asset["id"]))
    key.last_activity_at = utcnow() - timedelta(days=3 * 365 + 1)
    session.add(key)
    session.commit()
    destroyed = destroy_idle_templates(
        session,
        now=utcnow(),
        retention_days=3 * 365,
        key_store=client.app.state.likeness.key_store,
    )
    session.commit()
    assert destroyed == [uuid.UUID(asset["id"])]
    # Retention ran outside the API process; its index catches up by the generation.
    assert matched(scan(client, holder, "obama.jpg")) == set()
    audit = client.get(f"/v1/assets/{asset['id']}/audit", headers=holder.headers).json()
    assert audit["items"][-1]["action"] == "likeness.templates_destroyed"


def test_templates_opened_for_some_likenesses_unwrap_no_other_key(client, holder, session):
    """What one index shard's reload reads: the kept likenesses' templates, and no other
    likeness's key unwrapped."""
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    likeness_id = uuid.UUID(asset["id"])
    key_store = client.app.state.likeness.key_store
    unwrapped = []

    class Recording:
        def get_many(self, likeness_ids):
            likeness_ids = list(likeness_ids)
            unwrapped.extend(likeness_ids)
            return key_store.get_many(likeness_ids)

    def opened(keep) -> set[uuid.UUID]:
        unwrapped.clear()
        templates = vault.open_templates(session, key_store=Recording(), keep=keep)
        return {template.likeness_id for template in templates}

    assert opened(lambda found: found != likeness_id) == set()
    assert unwrapped == []
    assert opened(lambda found: found == likeness_id) == {likeness_id}
    assert unwrapped == [likeness_id]
