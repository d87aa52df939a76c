"""Destroying face templates: when a likeness is deleted, and by the retention rule.

The retention rule (BIPA: destroy biometric identifiers once their purpose is served, and
within three years of the last interaction) runs as a scheduled command:
``clearhouse likeness retention`` from cron or a systemd timer.
"""

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from audit.service import record_event
from likeness import vault
from likeness.key_store import LikenessKeyStore
from likeness.runtime import LikenessRuntime
from rights.models import Asset


def forget_likeness(
    session: Session,
    *,
    likeness_id: uuid.UUID,
    reason: str,
    actor_id: uuid.UUID | None,
    key_store: LikenessKeyStore,
    runtime: LikenessRuntime | None,
) -> int:
    """Destroy the likeness's data key in the key store, delete its templates; drop it from
    ``runtime``'s index once committed, and from other processes' at their next request (the
    generation moves on; until then their scans check every match against the key store and
    drop it anyway)."""
    removed = vault.shred(session, likeness_id=likeness_id, key_store=key_store)
    if runtime is None:
        vault.advance_index_generation(session)
    else:
        runtime.change_index(session, lambda index: index.remove_likeness(likeness_id=likeness_id))
    record_event(
        session,
        action="likeness.templates_destroyed",
        actor_id=actor_id,
        asset_id=likeness_id,
        details={"reason": reason, "templates": removed},
    )
    return removed


def destroy_idle_templates(
    session: Session, *, now: datetime, retention_days: int, key_store: LikenessKeyStore
) -> list[uuid.UUID]:
    """Shred every likeness with no activity for ``retention_days``; returns their ids.

    Run from the CLI, outside any API process: those pick the change up by its generation."""
    idle = vault.idle_likenesses(session, idle_since=now - timedelta(days=retention_days))
    for likeness_id in idle:
        forget_likeness(
            session,
            likeness_id=likeness_id,
            actor_id=None,
            key_store=key_store,
            runtime=None,
            reason=f"retention: no activity for {retention_days} days",
        )
    return idle


def destroy_orphan_keys(session: Session, *, key_store: LikenessKeyStore) -> list[uuid.UUID]:
    """Destroy every key in the store whose likeness is deleted or unknown to the database.

    Such a key outlived its likeness: an enrolment that raced the deletion, or a database
    restored from a backup older than the likeness. No row can need it."""
    stored = key_store.likeness_ids()
    live = {
        likeness_id
        for start in range(0, len(stored), 500)
        for likeness_id in session.exec(
            select(Asset.id).where(
                col(Asset.id).in_(stored[start : start + 500]), Asset.deleted_at.is_(None)
            )
        )
    }
    orphans = [likeness_id for likeness_id in stored if likeness_id not in live]
    for likeness_id in orphans:
        key_store.destroy(likeness_id)
    return orphans
