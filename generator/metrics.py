"""The generator's metrics: jobs by state and the queue's depth, read from the database at
each scrape (job state lives there, shared by every process), and the in-process worker's
restarts and the jobs it took over from workers that stopped."""

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from generator.models import GenerationJob, JobState

WORKER_RESTARTS = Counter(
    "clearhouse_generation_worker_restarts_total",
    "Rounds of the generation worker that failed (the database away, a bug); it starts "
    "again after the poll pause.",
)
JOBS_TAKEN_OVER = Counter(
    "clearhouse_generation_jobs_taken_over_total",
    "Running jobs found silent past their lease (their worker stopped), by what became of "
    "them: queued again or failed.",
    ["to"],
)


class JobStates(Collector):
    """``clearhouse_generation_jobs{state}`` and ``clearhouse_generation_queue_depth``, one
    query a scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            counted = dict(
                session.exec(
                    select(GenerationJob.state, func.count()).group_by(GenerationJob.state)
                ).all()
            )
        jobs = GaugeMetricFamily(
            "clearhouse_generation_jobs", "Generation jobs by state.", labels=["state"]
        )
        for state in JobState:
            jobs.add_metric([state.value], counted.get(state, 0))
        yield jobs
        yield GaugeMetricFamily(
            "clearhouse_generation_queue_depth",
            "Generation jobs queued, waiting for a worker.",
            value=counted.get(JobState.queued, 0),
        )
