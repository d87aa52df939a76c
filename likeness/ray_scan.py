"""Faces found on a Ray cluster (``CLEARHOUSE_RAY_ADDRESS``): scan actors that keep a loaded
face backend and take frames in batches, fed by the API process.

Only the face model moves. Media work (likeness/scan_detection.py, licensing/media_inspection.py,
enrolment's checks) runs as before, but in the request's thread rather than in a media worker
process, and its :func:`likeness.media_workers.worker_backend` is a :class:`RayFaceBackend`:
the frames it decoded go to the actors in batches of ``ray_scan_batch``, spread over the
``ray_scan_actors`` actors, and their faces come back in order. Decoding in the API process
is cheap next to the face model (Pillow and PyAV let go of the interpreter lock while they
decode; dlib holds it for up to ~97 ms a detection, which now happens on the actors), and the
media limits bound its memory as they did in the workers.

Admission is the media workers' (likeness.media_workers.MediaWorkers): a bounded number of
requests are worked on or wait, the rest get a 503 with Retry-After. An actor that dies
mid-batch (a crash, its node lost) is restarted by Ray; its batch is sent once more, to
whichever actor answers within ``media_queue_seconds``, and if that fails too the request
gets a 503 (:class:`MediaWorkerLost`). A batch is never answered with no faces because its
actor died: a face the check missed would pass a clearance.
"""

import itertools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from clearhouse.ray_start import started
from clearhouse.settings import Settings
from likeness.backends import load_backend
from likeness.backends.base import DetectedFace
from likeness.errors import MediaWorkerLost
from likeness.media_workers import MediaWorkers, WorkerConfig, backend_for_work
from likeness.metrics import MEDIA_WORKER_RESTARTS

T = TypeVar("T")

# Calls answered while a batch runs (the default group runs one batch at a time).
_CONTROL = "control"
_NAMESPACE = "clearhouse"
_RESTART_POLL_S = 0.2


class ScanActor:
    """One loaded face backend on a Ray worker: frames in, their faces out (no database)."""

    def __init__(self, *, backend: str, model_dir: Path | None) -> None:
        self.backend = load_backend(backend, model_dir)
        self.batches_running = 0

    def model(self) -> tuple[str, int, float, int]:
        """The backend's model key, embedding size and default threshold, and this process."""
        backend = self.backend
        return (
            backend.model_key,
            backend.embedding_dim,
            backend.default_match_threshold,
            os.getpid(),
        )

    def detect_and_embed(self, images: list[np.ndarray]) -> tuple[int, list[list[DetectedFace]]]:
        """Each image's faces, and this actor's process (a new one after a restart)."""
        self.batches_running += 1
        try:
            return os.getpid(), self.backend.detect_and_embed(images)
        finally:
            self.batches_running -= 1

    def working(self) -> int:
        """Batches being worked on now (run in the control group)."""
        return self.batches_running

    def pid(self) -> int:
        """This actor's process (run in the control group)."""
        return os.getpid()


class RayFaceBackend:
    """A FaceBackend (likeness/backends/base.py) whose faces are found by the scan actors."""

    def __init__(
        self, actors: list, *, batch: int, retry_within_s: float, start_within_s: float = 300.0
    ) -> None:
        self.actors = actors
        self.batch = batch
        self.retry_within_s = retry_within_s
        self._next = itertools.count()
        self._lock = threading.Lock()
        # Waits for every actor's model to load: a server that cannot scan should not start.
        models = started(
            [actor.model.remote() for actor in actors],
            what=f"{len(actors)} Ray scan actor(s)",
            within_s=start_within_s,
        )
        self.model_key, self.embedding_dim, self.default_match_threshold, _ = models[0]
        self._pids = [pid for *_, pid in models]

    def detect_and_embed(self, images: Sequence[np.ndarray]) -> list[list[DetectedFace]]:
        """Find and embed every face in each image: batches sent at once to the actors in
        turn (another request's batches take the next turns), answers read in order."""
        batches = [list(images[at : at + self.batch]) for at in range(0, len(images), self.batch)]
        sent = [(batch, self._send(batch)) for batch in batches]
        found: list[list[DetectedFace]] = []
        for batch, (position, answer) in sent:
            found += self._faces(batch, position=position, answer=answer)
        if len(found) != len(images):
            raise RuntimeError(f"the scan actors answered for {len(found)} of {len(images)} frames")
        return found

    def _send(self, batch: list[np.ndarray], *, skip: int | None = None):
        with self._lock:
            position = next(self._next) % len(self.actors)
        if skip is not None and len(self.actors) > 1 and position == skip:
            position = (position + 1) % len(self.actors)
        return position, self.actors[position].detect_and_embed.remote(batch)

    def _faces(self, batch: list[np.ndarray], *, position: int, answer) -> list:
        try:
            return self._read(position, answer)
        except RayActorError:
            # Ray restarts the actor; the batch is sent once more, preferably to another.
            self._count_restart(position)
            return self._once_more(batch, lost=position)

    def _once_more(self, batch: list[np.ndarray], *, lost: int) -> list:
        """``batch`` again, on the first actor that takes it within ``retry_within_s``; else
        MediaWorkerLost (never an answer without the batch's faces)."""
        deadline = time.monotonic() + self.retry_within_s
        while True:
            position, answer = self._send(batch, skip=lost)
            try:
                return self._read(position, answer)
            except ActorUnavailableError as error:  # still restarting: refused at once
                if time.monotonic() >= deadline:
                    raise _lost() from error
                time.sleep(_RESTART_POLL_S)
            except RayActorError as error:
                self._count_restart(position)
                raise _lost() from error

    def _read(self, position: int, answer) -> list:
        pid, faces = ray.get(answer)
        if pid != self._pids[position]:  # restarted since this process last heard from it
            self._count_restart(position, pid=pid)
        return faces

    def _count_restart(self, position: int, *, pid: int | None = None) -> None:
        """One restart of the actor at ``position``, counted once however many requests saw
        it: by the process it had (a failed call) or the new one it answered from."""
        with self._lock:
            if pid is None:
                if self._pids[position] is None:
                    return
                self._pids[position] = None  # lost; the next answer names the new process
            else:
                was, self._pids[position] = self._pids[position], pid
                if was is None:  # already counted when its call failed
                    return
        MEDIA_WORKER_RESTARTS.inc()


def _lost() -> MediaWorkerLost:
    return MediaWorkerLost(
        "the scan worker finding faces in this upload stopped, and no other took its frames in "
        "time; send it again"
    )


class RayMediaWorkers(MediaWorkers):
    """Media work with the admission of the media workers, run in the request's thread with
    the scan actors' backend; no process pool."""

    spreads = False

    def __init__(self, config: WorkerConfig, *, actors: list, backend: RayFaceBackend) -> None:
        super().__init__(config)
        self.actors = actors
        self.backend = backend

    def _run_in_worker(self, work: Callable[[], T]) -> T:
        with backend_for_work(self.backend):
            return work()

    def shutdown(self) -> None:
        """Stop the actors (work under way ends with MediaWorkerLost)."""
        for actor in self.actors:
            ray.kill(actor, no_restart=True)


def start_scan_actors(settings: Settings) -> list:
    """``ray_scan_actors`` actors on the cluster at ``ray_address`` (connected to if this
    process is not yet). Each loads the face backend once; insightface takes a GPU each where
    the cluster has any (dlib runs on a CPU). A dead actor is restarted without end; the
    batch it held is sent again by :class:`RayFaceBackend`, not by Ray."""
    if not ray.is_initialized():
        ray.init(address=settings.ray_address, namespace=_NAMESPACE, log_to_driver=False)
    gpu = settings.face_backend == "insightface" and ray.cluster_resources().get("GPU", 0) >= 1
    remote = ray.remote(concurrency_groups={_CONTROL: 1})(ScanActor)
    return [
        remote.options(
            num_gpus=1 if gpu else 0,
            num_cpus=0 if gpu else 1,
            max_restarts=-1,
            max_task_retries=0,
        ).remote(backend=settings.face_backend, model_dir=settings.insightface_model_dir)
        for _ in range(settings.ray_scan_actors)
    ]


def start_ray_media_workers(settings: Settings) -> RayMediaWorkers:
    """The media work of an app whose faces are found on Ray: its actors started and loaded."""
    actors = start_scan_actors(settings)
    try:
        backend = RayFaceBackend(
            actors,
            batch=settings.ray_scan_batch,
            retry_within_s=settings.media_queue_seconds,
            start_within_s=settings.ray_start_seconds,
        )
    except BaseException:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        raise
    # Requests worked on at once: enough to keep every actor busy.
    slots = max(settings.media_concurrency, settings.ray_scan_actors)
    config = replace(WorkerConfig.from_settings(settings), processes=slots)
    return RayMediaWorkers(config, actors=actors, backend=backend)
