"""The notice worker's rounds: one when a notice is written, at least the gap apart under a
stream of them, so that a burst of uses costs a few rounds rather than one a commit."""

import threading
import time

import pytest

from notifications import tasks
from notifications.service import notices_written


@pytest.fixture
def rounds(monkeypatch):
    done: list[float] = []
    ran = threading.Event()

    def send_notices(engine, *, mailer, settings):
        done.append(time.monotonic())
        ran.set()
        return 0, 0

    monkeypatch.setattr(tasks, "send_notices", send_notices)
    monkeypatch.setattr(tasks, "sweep_deadlines", lambda engine, *, settings: None)
    return done, ran


def test_a_burst_of_notices_goes_out_in_few_rounds_and_a_later_one_at_once(settings, rounds):
    done, ran = rounds
    gap = settings.model_copy(update={"notice_round_gap_seconds": 1.0, "notice_poll_seconds": 60})
    worker = tasks.NoticeWorker(engine=None, mailer=None, settings=gap)
    try:
        assert ran.wait(10)  # the first round, at start
        for _ in range(200):  # a stream of commits, each waking the worker
            notices_written.set()
            time.sleep(0.002)
        time.sleep(1.5)
        burst = len(done)
        assert 2 <= burst <= 3, done  # not one round a commit; the burst's own round ran
        ran.clear()
        notices_written.set()  # a notice after the gap: out long before the poll
        assert ran.wait(10)
        assert len(done) == burst + 1
    finally:
        worker.close()
