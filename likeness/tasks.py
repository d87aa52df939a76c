"""Destroying face templates: when a likeness is deleted, and by the retention rule.

The retention rule (BIPA: destroy biometric identifiers once their purpose is served, and
within three years of the last interaction) runs as a scheduled command:
``clearhouse likeness retention`` from cron or a systemd timer.
"""

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from clearhouse.db import after_commit
from likeness import vault
from likeness.index import FaceIndex
from rights import audit


def forget_likeness(
    session: Session,
    *,
    likeness_id: uuid.UUID,
    reason: str,
    actor_id: uuid.UUID | None,
    index: FaceIndex | None,
) -> int:
    """Shred the likeness's data key and templates; drop it from ``index`` once committed.

    Other processes' indexes may hold it until they rebuild, but the scan checks every
    match against the vault, so they no longer report it either.
    """
    removed = vault.shred(session, likeness_id=likeness_id)
    if index is not None:
        after_commit(session, lambda: index.remove_likeness(likeness_id=likeness_id))
    audit.record_event(
        session,
        action="likeness.templates_destroyed",
        actor_id=actor_id,
        asset_id=likeness_id,
        details={"reason": reason, "templates": removed},
    )
    return removed


def destroy_idle_templates(
    session: Session, *, now: datetime, retention_days: int, index: FaceIndex | None = None
) -> list[uuid.UUID]:
    """Shred every likeness with no activity for ``retention_days``; returns their ids."""
    idle = vault.idle_likenesses(session, idle_since=now - timedelta(days=retention_days))
    for likeness_id in idle:
        forget_likeness(
            session,
            likeness_id=likeness_id,
            actor_id=None,
            index=index,
            reason=f"retention: no activity for {retention_days} days",
        )
    return idle
