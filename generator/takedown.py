"""Takedown: a released clip licensed under a consent that is then withdrawn is no longer
served, and is flagged for its creator and the owners of what it used.

The flag is stored on the job, in the revocation's own transaction, after the revocation has
locked its grant: a release that read the grant first (``FOR SHARE``, generator/release.py)
has committed by then, so its licences are seen here and it is taken down with the others;
one that reads the grant later finds it withdrawn and is cancelled instead. So no clip
licensed under a withdrawn grant stays up, and each is taken down once, by the first
withdrawal of a consent it used.

Each clip taken down has its charge reversed in the ledger (payouts/takedowns.py), in the same
transaction but inside a savepoint: a ledger that fails rolls back to it, is logged, the
reversal is recorded to be retried later (by payout runs and ``clearhouse payouts
retry-reversals``), and the takedown commits all the same. Withdrawing consent must never wait
on money.
"""

import logging
import uuid
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from generator.models import GenerationJob, JobState
from licensing.models import Licence
from payouts.takedowns import record_pending_reversals, reverse_takedowns

log = logging.getLogger(__name__)


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
    generation_ids = sorted(taken_down.scalars().all())
    if generation_ids:
        _reverse_charges(session, generation_ids=generation_ids, grant_id=grant_id, at=at)
    return generation_ids


def _reverse_charges(
    session: Session, *, generation_ids: list[uuid.UUID], grant_id: uuid.UUID, at: datetime
) -> None:
    """Reverse the usages of the clips taken down, or record them to be retried (see the
    module)."""
    reason = f"taken down: consent {grant_id} was withdrawn"
    try:
        with session.begin_nested():
            reverse_takedowns(session, generation_ids=generation_ids, reason=reason, now=at)
    except Exception:
        log.exception(
            "the takedown of %s under the withdrawn grant %s stands, but its charges were not "
            "reversed in the ledger; recorded to be retried",
            ", ".join(str(generation_id) for generation_id in generation_ids),
            grant_id,
        )
        try:
            with session.begin_nested():
                record_pending_reversals(
                    session, generation_ids=generation_ids, reason=reason, now=at
                )
        except Exception:
            log.exception("the reversals to retry could not be recorded either")


def taken_down_under(session: Session, *, grant_id: uuid.UUID) -> int:
    """How many released clips the withdrawal of ``grant_id`` took down."""
    return session.exec(
        select(func.count()).where(GenerationJob.takedown_grant_id == grant_id)
    ).one()
