"""The in-process generation worker: a thread of the API process that runs queued jobs.

It wakes when this process queues a job, and every ``generation_poll_seconds`` anyway, to
find jobs queued by other processes and running jobs whose worker stopped (retried or
failed, generator/jobs.py), and to delete blocked outputs' clips past their window for
licence offers (generator/held_outputs.py). Each job is run by
:func:`generator.tasks.run_job`, which takes it with a conditional update, so workers of
several processes share one queue safely. One thread by default: the pipeline runs one
generation at a time; with Ray (generator/ray_workers.py) one thread per actor, each running
its jobs' frames on a free actor.
"""

import logging
import threading
from collections.abc import Callable

from clearhouse.db import utcnow
from generator.clip_files import discard_job_files
from generator.held_outputs import discard_lapsed_held_outputs
from generator.jobs import next_queued, recover_abandoned
from generator.metrics import JOBS_TAKEN_OVER, WORKER_RESTARTS
from generator.models import JobState
from generator.runtime import GeneratorRuntime
from generator.tasks import run_job

log = logging.getLogger(__name__)


class GenerationWorker:
    def __init__(
        self,
        *,
        runtime: GeneratorRuntime,
        lanes: int = 1,
        after_close: Callable[[], None] | None = None,
    ) -> None:
        """``lanes`` threads run jobs side by side (as many as the pipeline runs at once);
        ``after_close`` releases what the pipeline holds once they have stopped."""
        self.runtime = runtime
        self._after_close = after_close
        self._due = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"generation-worker-{lane}", daemon=True)
            for lane in range(lanes)
        ]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._due.set()

    def close(self) -> None:
        """Stop: a running generation stops within a step and its job is queued again."""
        self.runtime.stopping.set()
        self._due.set()
        for thread in self._threads:
            thread.join(timeout=60)
        if self._after_close is not None:
            self._after_close()

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
                    JOBS_TAKEN_OVER.labels(state.value).inc()
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
                WORKER_RESTARTS.inc()
                log.exception("the generation worker's round failed")
            self._due.wait(timeout=settings.generation_poll_seconds)
            self._due.clear()


def start_generation_worker(runtime: GeneratorRuntime) -> GenerationWorker:
    """This process's worker: on Ray's actors when ``ray_address`` is set (Ray is imported
    only then), else in process."""
    if runtime.settings.ray_address:
        from generator.ray_workers import start_ray_generation_worker

        return start_ray_generation_worker(runtime)
    return GenerationWorker(runtime=runtime)
