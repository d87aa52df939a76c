"""Generation on a Ray cluster (``CLEARHOUSE_RAY_ADDRESS``): actors that keep a loaded
pipeline and compute frames, driven by the API process's generation worker.

Everything but the frames stays where it was. The worker's threads (generator/worker.py, one
per actor) take jobs from the database, verify their tokens, record progress, check, sign
and release them with :func:`generator.tasks.run_job`, exactly as in process; only the
pipeline they call is :class:`RayClipPipeline`, which runs the denoising on a free actor. An
actor holds no job state and never touches the database, so an actor lost with its node
cannot release or charge anything: the attempt it served ends with an error, its job is
queued again or failed by the job state machine (generator/jobs.py), and Ray restarts the
actor wherever a GPU is free.

The actor streams its progress after every step and waits there for the driver, which records
it (the job's sign of life) and reads the cancel check, then tells the actor to go on or to
stop (through a concurrency group of its own, so the call is not queued behind the
generation). So a revocation stops a Ray generation within a step, as in process, and the
release's re-read of the consents (generator/release.py) stays the guarantee for one that
lands after the last step.

Imported only when Ray is configured: ``ray`` is a dependency, but the API need not load it.
"""

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from clearhouse.ray_start import started
from clearhouse.settings import Settings
from generator.errors import GenerationCancelled
from generator.pipeline import CancelCheck, GeneratedClip, ProgressCallback, load_clip_pipeline
from generator.runtime import GeneratorRuntime
from generator.worker import GenerationWorker

# Calls that must not wait behind a running generation (the default group runs one).
_CONTROL = "control"
_NAMESPACE = "clearhouse"
_RESTART_POLL_S = 0.5


@dataclass(frozen=True)
class StepsDone:
    """Progress of a generation on an actor: ``done`` of ``total`` denoising steps."""

    done: int
    total: int


@dataclass(frozen=True)
class Stopped:
    """The generation stopped between two steps because the driver asked it to."""

    steps_done: int
    steps_total: int


class GenerationActor:
    """One loaded pipeline on a Ray worker: a job's frames in, nothing else (no database)."""

    def __init__(
        self,
        *,
        model_dir: Path | None,
        cache_dir: Path,
        compile_unet: bool,
        threads: int,
        answer_within_s: float,
    ) -> None:
        import torch

        torch.set_num_threads(threads)
        self.pipeline = load_clip_pipeline(
            model_dir=model_dir, cache_dir=cache_dir, compile_unet=compile_unet
        )
        self.answer_within_s = answer_within_s
        self._stop = threading.Event()
        self._go_on = threading.Semaphore(0)

    def generate(self, request: dict) -> Iterator[StepsDone | Stopped | GeneratedClip]:
        """StepsDone after every step, then the clip, or Stopped once :meth:`stop` was
        called. After each step the pipeline waits for the caller's :meth:`go_on` or
        :meth:`stop`, so that it never runs ahead of the caller's cancel check; a caller
        silent for ``answer_within_s`` (the job's lease: its attempt is over) stops it. The
        pipeline runs in a thread of its own: its progress arrives by callback, and a
        generator can only yield from its own frame."""
        self._stop.clear()
        self._go_on = go_on = threading.Semaphore(0)
        events: queue.SimpleQueue = queue.SimpleQueue()

        def after_step(done: int, total: int) -> None:
            events.put(StepsDone(done, total))
            if not go_on.acquire(timeout=self.answer_within_s):
                self._stop.set()

        def run() -> None:
            try:
                events.put(
                    self.pipeline(
                        **request, on_progress=after_step, should_cancel=self._stop.is_set
                    )
                )
            except GenerationCancelled as cancelled:
                events.put(Stopped(cancelled.steps_done, cancelled.steps_total))
            except BaseException as error:  # raised again in the caller's frame, below
                events.put(error)

        threading.Thread(target=run, name="generation", daemon=True).start()
        while True:
            event = events.get()
            if isinstance(event, BaseException):
                raise event
            yield event
            if not isinstance(event, StepsDone):
                return

    def go_on(self) -> None:
        """The caller has recorded the last step: make the next (run in the control group)."""
        self._go_on.release()

    def stop(self) -> None:
        """Stop the running generation before its next step (run in the control group)."""
        self._stop.set()
        self._go_on.release()

    def node_id(self) -> str:
        """The Ray node this actor runs on (run in the control group)."""
        return ray.get_runtime_context().get_node_id()


class RayClipPipeline:
    """A ClipPipeline's call (generator/pipeline.py), run on whichever of ``actors`` is free;
    ``on_progress`` and ``should_cancel`` run here, in the caller's thread."""

    def __init__(self, actors: list) -> None:
        self.actors = actors
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for actor in actors:
            self._idle.put(actor)

    def __call__(
        self,
        *,
        prompt: str,
        seed: int,
        frame_count: int,
        width: int,
        height: int,
        steps: int,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GeneratedClip:
        if should_cancel is not None and should_cancel():
            raise GenerationCancelled(steps_done=0, steps_total=0)
        request = {
            "prompt": prompt,
            "seed": seed,
            "frame_count": frame_count,
            "width": width,
            "height": height,
            "steps": steps,
        }
        actor = self._idle.get()
        try:
            return _generate_on(
                actor, request=request, on_progress=on_progress, should_cancel=should_cancel
            )
        finally:
            self._idle.put(actor)


def _generate_on(
    actor,
    *,
    request: dict,
    on_progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> GeneratedClip:
    """Follow one generation on ``actor`` to its end. An actor lost meanwhile raises Ray's
    RayActorError (ActorUnavailableError while it restarts): the attempt ends like any other
    error, and the job is queued again (its next attempt waits for the actor) or failed."""
    _wait_until_serving(actor, should_cancel=should_cancel)
    control = {"concurrency_group": _CONTROL}
    done = total = 0
    try:
        for ref in actor.generate.remote(request):
            event = ray.get(ref)
            if isinstance(event, Stopped):
                raise GenerationCancelled(
                    steps_done=event.steps_done, steps_total=event.steps_total
                )
            if not isinstance(event, StepsDone):
                return event
            done, total = event.done, event.total
            if on_progress is not None:
                on_progress(done, total)
            if should_cancel is not None and should_cancel():
                actor.stop.options(**control).remote()
            else:
                actor.go_on.options(**control).remote()
    except (GenerationCancelled, RayActorError):
        raise
    except BaseException:
        # This side failed (the database away while recording progress): free the actor.
        actor.stop.options(**control).remote()
        raise
    raise RuntimeError(f"the generation actor's stream ended after step {done} of {total}")


def _wait_until_serving(actor, *, should_cancel: CancelCheck | None) -> None:
    """Until ``actor`` answers: one Ray is restarting (its node was lost) refuses calls at
    once rather than queueing them, and an attempt should not end on that. A cancellation
    meanwhile still cancels; a wait past the job's lease lets the job's recovery retry it
    (this attempt's moves then change nothing)."""
    while True:
        try:
            ray.get(actor.node_id.options(concurrency_group=_CONTROL).remote())
            return
        except ActorUnavailableError:
            if should_cancel is not None and should_cancel():
                raise GenerationCancelled(steps_done=0, steps_total=0) from None
            time.sleep(_RESTART_POLL_S)


def start_generation_actors(settings: Settings) -> list:
    """``ray_generation_actors`` actors on the cluster at ``ray_address`` (connected to if
    this process is not yet), each asking for a GPU when the cluster has any. They load their
    pipelines in the background. A dead actor is
    restarted without end (a node lost, a crash): the jobs it held are already the database's
    to retry, and a new one serves the next. They live as long as this process."""
    if not ray.is_initialized():
        ray.init(address=settings.ray_address, namespace=_NAMESPACE, log_to_driver=False)
    gpus = ray.cluster_resources().get("GPU", 0) >= 1
    remote = ray.remote(concurrency_groups={_CONTROL: 1})(GenerationActor)
    return [
        remote.options(
            num_gpus=1 if gpus else 0,
            num_cpus=0 if gpus else 1,  # a GPU actor would otherwise hold a CPU it hardly uses
            max_restarts=-1,
            max_task_retries=0,  # the job state machine retries, not Ray: one attempt, one run
        ).remote(
            model_dir=settings.generator_model_dir,
            cache_dir=settings.data_dir / "models",
            compile_unet=settings.generator_compile,
            threads=settings.generator_threads,
            answer_within_s=settings.generation_lease_seconds,
        )
        for _ in range(settings.ray_generation_actors)
    ]


def start_ray_generation_worker(runtime: GeneratorRuntime) -> GenerationWorker:
    """The generation worker of a process whose jobs run on Ray: one thread per actor, once
    every actor has loaded its pipeline (a process that cannot generate does not start)."""
    actors = start_generation_actors(runtime.settings)
    try:
        started(
            [actor.node_id.options(concurrency_group=_CONTROL).remote() for actor in actors],
            what=f"{len(actors)} Ray generation actor(s)",
            within_s=runtime.settings.ray_start_seconds,
        )
    except BaseException:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        raise
    ray_runtime = replace(
        runtime,
        loaded_pipeline=RayClipPipeline(actors),
        generating=threading.Semaphore(len(actors)),
    )

    def kill_actors() -> None:
        for actor in actors:
            ray.kill(actor, no_restart=True)

    return GenerationWorker(runtime=ray_runtime, lanes=len(actors), after_close=kill_actors)
