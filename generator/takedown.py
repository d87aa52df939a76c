"""Takedown: a released clip licensed under a consent that is then withdrawn is no longer
served, and is flagged for its creator and the owners of what it used.

The flag is stored on the job, in the revocation's own transaction, after the revocation has
locked its grant: a release that read the grant first (``FOR SHARE``, generator/release.py)
has committed by then, so its licences are seen here and it is taken down with the others;
one that reads the grant later finds it withdrawn and is cancelled instead. So no clip
licensed under a withdrawn grant stays up, and each is taken down once, by the first
withdrawal of a consent it used.
"""

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from generator.models import GenerationJob, JobState
from licensing.models import Licence


def take_down_releases(session: Session, *, grant_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """Flag, in ``session``'s transaction, every released generation licensed under the
    withdrawn grant ``grant_id`` and not yet taken down; their ids."""
    licensed = select(Licence.generation_id).where(Licence.grant_id == grant_id)
    taken_down = session.execute(
        update(GenerationJob)
        .where(
            col(GenerationJob.id).in_(licensed),
            GenerationJob.state == JobState.released,
            col(GenerationJob.taken_down_at).is_(None),
        )
        .values(taken_down_at=at, takedown_grant_id=grant_id)
        .returning(GenerationJob.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(taken_down.scalars().all())
