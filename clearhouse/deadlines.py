"""The deadline sweep: what happens when a deadline passes with nobody acting. A licence offer
lapses unanswered (licensing/offers/lapse.py); a dispute's holder is reminded before the answer
is due, and both parties told once it is overdue (rights/disputes/deadlines.py).

It runs at the start of each round of the notice worker (notifications/tasks.py), so the
notices it writes go out in the same round, and from `clearhouse notices send`. Each step tells
once however many processes sweep at the same moment.
"""

from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import Engine

from clearhouse.db import utcnow
from clearhouse.settings import Settings
from licensing.offers.lapse import lapse_offers
from rights.disputes.deadlines import remind_answers_due, tell_answers_overdue


@dataclass(frozen=True)
class SweptDeadlines:
    """How many of each this sweep recorded and told."""

    offers_lapsed: int
    disputes_reminded: int
    disputes_overdue: int

    def counts(self) -> dict[str, int]:
        return asdict(self)


def sweep_deadlines(engine: Engine, *, settings: Settings) -> SweptDeadlines:
    now = utcnow()
    return SweptDeadlines(
        offers_lapsed=len(lapse_offers(engine, now=now)),
        disputes_reminded=len(
            remind_answers_due(
                engine, now=now, lead=timedelta(hours=settings.dispute_reminder_hours)
            )
        ),
        disputes_overdue=len(tell_answers_overdue(engine, now=now)),
    )
