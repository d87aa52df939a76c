"""Media work in processes of its own: decoding uploads, finding and embedding faces.

dlib's face detector holds Python's interpreter lock for up to ~97 ms a call. On a thread of
the API process it stalled every request that process served; in a worker process it stalls
nobody else. So:

- each API process has one pool of ``media_concurrency`` worker processes per configuration
  (backend, model folder, size, niceness), shared by the apps of the process that use it
  (the tests keep one for their whole session), its workers started on the first upload and
  stopped when its last app closes. Workers are started with "spawn": a fork of a threaded
  server copies locks other threads held. A worker also exits when its API process dies
  (killed for memory, say), so none is left holding a model and a decode's memory;
- each worker loads the face backend once and lowers its CPU priority
  (``media_worker_niceness``): on a busy machine request handling gets the cores first;
- admission stays in the API process: ``media_concurrency`` requests at a time have a worker,
  ``MEDIA_WAITING_PER_SLOT`` more per worker wait for one, each at most
  ``media_queue_seconds``; the rest get a 503 (:class:`MediaBusy`) at once;
- a worker that dies (killed for memory, a crash in native code) fails the requests the pool
  was serving with a 503 (:class:`MediaWorkerLost`); the next request gets a new pool;
- work made of parts (the generator's output check: frames it made itself) may spread over
  the workers that are free when it is admitted (:meth:`MediaWorkers.run_split`); it waits
  for one worker, as any work does, and never for a second.

Work is a picklable callable, a module-level function or a ``functools.partial`` of one
(sent by name); inside a worker it reaches the face model through :func:`worker_backend`.
With a Ray cluster configured the same work runs in the request's thread instead, and
:func:`worker_backend` is the Ray scan actors' (likeness/ray_scan.py); admission is this
module's, the same for both.
"""

import contextlib
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from clearhouse.settings import Settings
from likeness.backends import load_backend
from likeness.backends.base import FaceBackend
from likeness.errors import MediaBusy, MediaWorkerLost
from likeness.metrics import MEDIA_WORKER_RESTARTS

#: Requests that may wait for each media worker; past that, a 503 at once.
MEDIA_WAITING_PER_SLOT = 2

T = TypeVar("T")
Item = TypeVar("Item")


@dataclass(frozen=True)
class WorkerConfig:
    """What makes two pools interchangeable: the model they load and how many run."""

    backend: str
    model_dir: Path | None
    processes: int
    niceness: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "WorkerConfig":
        return cls(
            backend=settings.face_backend,
            model_dir=settings.insightface_model_dir,
            processes=settings.media_concurrency,
            niceness=settings.media_worker_niceness,
        )


@dataclass(frozen=True)
class FaceModel:
    """Which model made a worker's embeddings, and the threshold they are compared at."""

    model_key: str
    match_threshold: float


# In a worker process: the configuration it was started with.
_worker_config: WorkerConfig | None = None
# Around work run in a request's thread (Ray scan actors): the backend it uses.
_backend_of_work: ContextVar[FaceBackend | None] = ContextVar("backend_of_work", default=None)


def worker_backend() -> FaceBackend:
    """The face backend of this worker process, or of the work running in this thread
    (:func:`backend_for_work`); only media work calls it."""
    backend = _backend_of_work.get()
    if backend is not None:
        return backend
    if _worker_config is None:
        raise RuntimeError("the face model runs in media workers only (likeness.media_workers)")
    return load_backend(_worker_config.backend, _worker_config.model_dir)


@contextmanager
def backend_for_work(backend: FaceBackend):
    """Media work run inside this block, in this thread, finds faces with ``backend``."""
    token = _backend_of_work.set(backend)
    try:
        yield
    finally:
        _backend_of_work.reset(token)


def worker_face_model(threshold: float | None) -> FaceModel:
    """This worker's model, compared at ``threshold`` (the operator's) or the model's own."""
    backend = worker_backend()
    return FaceModel(
        model_key=backend.model_key,
        match_threshold=backend.default_match_threshold if threshold is None else threshold,
    )


def _start_worker(config: WorkerConfig) -> None:
    global _worker_config
    _worker_config = config
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the API process; it stops us
    os.nice(config.niceness)
    # Each worker does one piece of work at a time, and there are as many as media work may
    # use cores: torch (the CLIP model, loaded on first use) on one thread, as OpenMP reads it.
    os.environ["OMP_NUM_THREADS"] = "1"
    _exit_with_api_process()
    # Loaded before any request waits for it. A failure (the operator's model files) is
    # raised again by worker_backend() in the first work, which sends its message to the
    # caller; raised here, it would only break the pool without saying why.
    with contextlib.suppress(Exception):
        worker_backend()


def _exit_with_api_process() -> None:
    """Exit as soon as the process that started this worker is gone (even SIGKILLed).

    A worker waiting for work holds both ends of its queue's pipe, so it would otherwise
    wait for ever; the spawn handshake's pipe closes when the parent dies."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def wait_for_parent() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=wait_for_parent, name="exit-with-api-process", daemon=True).start()


class MediaWorkers:
    """One pool of media worker processes and the admission to it."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.admitted = config.processes * (1 + MEDIA_WAITING_PER_SLOT)
        self.users = 0  # apps using this pool (see attach)
        self._admission = threading.BoundedSemaphore(self.admitted)
        # Workers not running anything. Counted here, since a process pool queues work
        # without bound and cannot take back work a worker has started.
        self._free = threading.BoundedSemaphore(config.processes)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    #: Whether one request's parts may run on several workers at once (not on Ray, where
    #: work runs in the request's thread and the scan actors take its frames in batches).
    spreads = True

    def run(self, work: Callable[[], T], *, queue_seconds: float) -> T:
        """``work()``'s result, computed in a worker; MediaBusy if none comes free in time."""
        with self._workers_held(queue_seconds, most=1):
            return self._run_in_worker(work)

    def run_split(
        self,
        items: Sequence[Item],
        work_for: Callable[[Sequence[Item], int], Callable[[], T]],
        *,
        queue_seconds: float,
    ) -> list[T]:
        """``work_for(part, first)()`` for consecutive parts of ``items`` (``first``: the index
        of the part's first item), a part a worker, over the workers free once one is (the
        one waited for as :meth:`run` waits); the parts' results in order. Under load it takes
        one worker, and so runs as :meth:`run` would."""
        most = min(len(items), self.config.processes) if self.spreads else 1
        with self._workers_held(queue_seconds, most=most) as held:
            if held == 1:
                return [self._run_in_worker(work_for(items, 0))]
            bounds = [(len(items) * n // held, len(items) * (n + 1) // held) for n in range(held)]
            futures = [self._submit(work_for(items[start:end], start)) for start, end in bounds]
            wait(futures)  # every part done before its worker counts as free again
            return [self._result(future) for future in futures]

    @contextmanager
    def _workers_held(self, queue_seconds: float, *, most: int) -> Iterator[int]:
        """Admitted, then one worker waited for and up to ``most`` in all taken if free: how
        many are held until the block ends. MediaBusy past the queue or its wait."""
        retry_after_s = max(1, math.ceil(queue_seconds))
        if not self._admission.acquire(blocking=False):
            raise MediaBusy(
                "this server is already decoding as many uploads as it queues; send it again "
                f"in {retry_after_s} s",
                retry_after_s=retry_after_s,
            )
        try:
            if not self._free.acquire(timeout=queue_seconds):
                raise MediaBusy(
                    f"no decoder came free within {queue_seconds:g} s; send the upload again "
                    f"in {retry_after_s} s",
                    retry_after_s=retry_after_s,
                )
            held = 1
            while held < most and self._free.acquire(blocking=False):
                held += 1
            try:
                yield held
            finally:
                for _ in range(held):
                    self._free.release()
        finally:
            self._admission.release()

    def _run_in_worker(self, work: Callable[[], T]) -> T:
        return self._result(self._submit(work))

    @staticmethod
    def _result(future: "Future[T]") -> T:
        try:
            return future.result()
        except BrokenProcessPool as error:
            raise MediaWorkerLost(
                "the worker processing this upload stopped (out of memory, or a crash while "
                "decoding); send it again. If the same file fails again, it is what stops the "
                "worker: send it in another format"
            ) from error

    def _submit(self, work: Callable[[], T]) -> "Future[T]":
        executor = self._current_executor()
        try:
            return executor.submit(work)
        except BrokenProcessPool:  # a worker died since the last work came: a new pool
            self._discard(executor)
            return self._current_executor().submit(work)

    def _current_executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.config.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.config,),
                )
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        """Forget a pool a worker died in (its other workers are stopped with it)."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
                MEDIA_WORKER_RESTARTS.inc()
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the workers, once the work they are doing is done."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_pools: dict[WorkerConfig, MediaWorkers] = {}
_pools_lock = threading.Lock()


def attach(config: WorkerConfig) -> MediaWorkers:
    """The pool of ``config``, for one more app: apps of one process with the same settings
    share it (its workers start on the first upload and load the model once)."""
    with _pools_lock:
        pool = _pools.get(config)
        if pool is None:
            pool = _pools[config] = MediaWorkers(config)
        pool.users += 1
        return pool


def detach(pool: MediaWorkers) -> None:
    """An app closed. The last app of a pool stops its workers and waits for them: uvicorn
    ends a process it stopped by raising the signal again, so no exit handler would."""
    with _pools_lock:
        pool.users -= 1
        if pool.users > 0:
            return
        del _pools[pool.config]
    pool.shutdown()
