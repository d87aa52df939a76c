"""The in-process generation worker: a thread of the API process that runs queued jobs.

It wakes when this process queues a job, and every ``generation_poll_seconds`` anyway, to
find jobs queued by other processes and running jobs whose worker stopped (retried or
failed, generator/jobs.py), and to delete blocked outputs' clips past their window for
licence offers (generator/held_outputs.py). Each job is run by
:func:`generator.tasks.run_job`, which takes it with a conditional update, so workers of
several processes share one queue safely. One thread: the pipeline runs one generation at a
time.
"""

import logging
import threading

from clearhouse.db import utcnow
from generator.clip_files import discard_job_files
from generator.held_outputs import discard_lapsed_held_outputs
from generator.jobs import next_queued, recover_abandoned
from generator.models import JobState
from generator.runtime import GeneratorRuntime
from generator.tasks import run_job

log = logging.getLogger(__name__)


class GenerationWorker:
    def __init__(self, *, runtime: GeneratorRuntime) -> None:
        self.runtime = runtime
        self._due = threading.Event()
        self._thread = threading.Thread(target=self._run, name="generation-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._due.set()

    def close(self) -> None:
        """Stop: a running generation stops within a step and its job is queued again."""
        self.runtime.stopping.set()
        self._due.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        runtime = self.runtime
        settings = runtime.settings
        while not runtime.stopping.is_set():
            try:
                recovered = recover_abandoned(
                    runtime.engine,
                    now=utcnow(),
                    lease_seconds=settings.generation_lease_seconds,
                    max_attempts=settings.generation_max_attempts,
                )
                # A job queued again loses them when its next attempt starts.
                for job_id, state in recovered.items():
                    if state == JobState.failed:
                        discard_job_files(settings.generations_dir, job_id=job_id)
                discard_lapsed_held_outputs(
                    runtime.engine,
                    generations_dir=settings.generations_dir,
                    now=utcnow(),
                    keep_hours=settings.held_output_hours,
                )
                while not runtime.stopping.is_set() and (job_id := next_queued(runtime.engine)):
                    run_job(job_id, runtime=runtime)
            except Exception:  # the database may be briefly away; the next round tries again
                log.exception("the generation worker's round failed")
            self._due.wait(timeout=settings.generation_poll_seconds)
            self._due.clear()
