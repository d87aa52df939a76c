"""The notice worker: a thread of the API process that sends webhook deliveries and email
digests, after the deadline sweep (clearhouse/deadlines.py: offers that lapse, disputes'
answers due or overdue) has written the notices of deadlines that passed. It wakes when this
process commits a notice, and every ``notice_poll_seconds``
anyway, for retries that came due, notices other processes wrote, and daily digests. Rounds
are at least ``notice_round_gap_seconds`` apart: each round reads every endpoint's due
deliveries and every account's digest, so under a stream of clearances one round per commit
would cost more than the clearances themselves."""

import logging
import threading

from sqlalchemy import Engine

from clearhouse.deadlines import sweep_deadlines
from clearhouse.mail.outbox import Mailer
from clearhouse.settings import Settings
from notifications.delivery import deliver_due
from notifications.digest import send_digests
from notifications.service import notices_written

log = logging.getLogger(__name__)


def send_notices(engine: Engine, *, mailer: Mailer, settings: Settings) -> tuple[int, int]:
    """One round: webhook deliveries that are due, then digests; (delivered, digests)."""
    return deliver_due(engine, settings=settings), send_digests(
        engine, mailer=mailer, settings=settings
    )


class NoticeWorker:
    def __init__(self, *, engine: Engine, mailer: Mailer, settings: Settings) -> None:
        self._engine = engine
        self._mailer = mailer
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notice-worker", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        notices_written.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            notices_written.clear()
            try:
                sweep_deadlines(self._engine, settings=self._settings)
            except Exception:  # a deadline missed now is swept next round; send the rest
                log.exception("the deadline sweep failed")
            try:
                send_notices(self._engine, mailer=self._mailer, settings=self._settings)
            except Exception:  # the database may be briefly away; the next round tries again
                log.exception("the notice worker's round failed")
            self._stop.wait(self._settings.notice_round_gap_seconds)
            notices_written.wait(timeout=self._settings.notice_poll_seconds)
