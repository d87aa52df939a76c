"""Destroying face templates: when a likeness is deleted, and by the retention rule.

The retention rule (BIPA: destroy biometric identifiers once their purpose is served, and
within three years of the last interaction) runs as a scheduled command:
``clearhouse likeness retention`` from cron or a systemd timer.
"""

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from likeness import vault
from likeness.runtime import LikenessRuntime
from rights import audit


def forget_likeness(
    session: Session,
    *,
    likeness_id: uuid.UUID,
    reason: str,
    actor_id: uuid.UUID | None,
    runtime: LikenessRuntime | None,
) -> int:
    """Shred the likeness's data key and templates; drop it from ``runtime``'s index once
    committed, and from other processes' at their next request (the generation moves on;
    until then their scans check every match against the vault and drop it anyway)."""
    removed = vault.shred(session, likeness_id=likeness_id)
    if runtime is None:
        vault.advance_index_generation(session)
    else:
        runtime.change_index(session, lambda index: index.remove_likeness(likeness_id=likeness_id))
    audit.record_event(
        session,
        action="likeness.templates_destroyed",
        actor_id=actor_id,
        asset_id=likeness_id,
        details={"reason": reason, "templates": removed},
    )
    return removed


def destroy_idle_templates(
    session: Session, *, now: datetime, retention_days: int
) -> list[uuid.UUID]:
    """Shred every likeness with no activity for ``retention_days``; returns their ids.

    Run from the CLI, outside any API process: those pick the change up by its generation."""
    idle = vault.idle_likenesses(session, idle_since=now - timedelta(days=retention_days))
    for likeness_id in idle:
        forget_likeness(
            session,
            likeness_id=likeness_id,
            actor_id=None,
            runtime=None,
            reason=f"retention: no activity for {retention_days} days",
        )
    return idle
