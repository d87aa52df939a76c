"""What a running app holds for likeness work: the face backend, the index, the key store.

Built in the app's lifespan. The backend loads on first use (dlib's weights take a second,
and most requests never need them); the index is rebuilt from the vault at start.
"""

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, TypeVar

import numpy as np
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from clearhouse.db import after_commit
from clearhouse.media import MediaLimits
from clearhouse.settings import Settings
from likeness import vault
from likeness.backends.base import DetectedFace, FaceBackend
from likeness.errors import MediaBusy
from likeness.index import FaceIndex
from likeness.key_store import LikenessKeyStore, open_key_store
from likeness.vault_crypto import load_master_key


@cache
def load_backend(name: str, model_dir: Path | None) -> FaceBackend:
    """One backend per process and configuration: models are large and read-only."""
    if name == "insightface":
        from likeness.backends.insightface_backend import InsightFaceBackend

        if model_dir is None:
            raise ValueError(
                "CLEARHOUSE_FACE_BACKEND=insightface needs CLEARHOUSE_INSIGHTFACE_MODEL_DIR: "
                "the folder holding the SCRFD and ArcFace ONNX files"
            )
        return InsightFaceBackend(model_dir=model_dir)
    from likeness.backends.dlib_backend import DlibFaceBackend

    return DlibFaceBackend()


#: Requests that may wait for each media thread; past that, a 503 at once.
MEDIA_WAITING_PER_SLOT = 2

T = TypeVar("T")


def configured_key_store(settings: Settings) -> LikenessKeyStore:
    """The likeness key store the settings name, its keys wrapped by the master key."""
    master_key = load_master_key(
        key_b64=settings.face_master_key,
        key_file=None if settings.face_master_key else settings.key_dir / "face-master.key",
    )
    return open_key_store(
        path=settings.likeness_key_store_path,
        master_key=master_key,
        main_database_url=settings.resolved_database_url,
    )


@dataclass
class LikenessRuntime:
    settings: Settings
    key_store: LikenessKeyStore
    index: FaceIndex
    generation: int = -1  # the vault generation the index holds (-1: none loaded yet)
    _backend_lock: threading.Lock = field(default_factory=threading.Lock)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)
    _media_pool: ThreadPoolExecutor = field(init=False)
    _media_admission: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        threads = self.settings.media_concurrency
        self._media_pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="media")
        self._media_admission = threading.BoundedSemaphore(self.media_requests_admitted)

    @property
    def media_requests_admitted(self) -> int:
        """Requests that may decode or wait for a decode at once; each holds its request thread."""
        return self.settings.media_concurrency * (1 + MEDIA_WAITING_PER_SLOT)

    @classmethod
    def start(cls, *, settings: Settings, engine: Engine) -> "LikenessRuntime":
        runtime = cls(
            settings=settings,
            key_store=configured_key_store(settings),
            index=FaceIndex(approximate_threshold=settings.face_index_approximate_after),
        )
        if settings.face_backend == "insightface":
            # The operator's model files must load now: a server that cannot scan should not
            # start. (dlib's weights ship with the package and load on first use.)
            load_backend(settings.face_backend, settings.insightface_model_dir)
        with Session(engine) as session:
            runtime.refresh(session)
        return runtime

    def refresh(self, session: Session) -> None:
        """Rebuild the index from the vault if another process changed the active templates."""
        current = vault.index_generation(session)
        if current == self.generation:
            return
        with self._sync_lock:
            if current != self.generation:
                templates = vault.open_templates(session, key_store=self.key_store)
                self.index.rebuild(templates=templates)
                self.generation = current

    def change_index(self, session: Session, change: Callable[[FaceIndex], object]) -> None:
        """Count a change to the active templates now; apply it to this index on commit."""
        generation = vault.advance_index_generation(session)

        def apply() -> None:
            change(self.index)
            if self.generation == generation - 1:  # in step before: now in step again
                self.generation = generation

        after_commit(session, apply)

    @property
    def backend(self) -> FaceBackend:
        return load_backend(self.settings.face_backend, self.settings.insightface_model_dir)

    @property
    def match_threshold(self) -> float:
        configured = self.settings.face_match_threshold
        return configured if configured is not None else self.backend.default_match_threshold

    @property
    def media_limits(self) -> MediaLimits:
        return MediaLimits(
            max_bytes=self.settings.scan_max_bytes,
            max_pixels=self.settings.scan_max_pixels,
            max_video_seconds=self.settings.scan_max_video_seconds,
            max_side=self.settings.media_max_side,
            max_request_pixels=self.settings.upload_max_pixels,
            max_request_decoded_pixels=self.settings.upload_max_decoded_pixels,
        )

    def run_media_work(self, work: Callable[[], T]) -> T:
        """Run ``work`` (decoding and face detection) on one of this process's media threads.

        Each decode and detection takes up to a few hundred megabytes and seconds of CPU, so
        only ``media_concurrency`` run at once, always on the same threads: glibc gives every
        thread that allocates its own heap and keeps what it freed, so twelve scans decoded
        on twelve request threads would each keep their peak. A request waits at most
        ``media_queue_seconds`` for a thread and only a few wait at all, since route
        handlers run on the server's bounded thread pool and a queue of uploads there would
        hold up every other route, revocation included. The rest get a 503 (Retry-After).
        """
        retry_after_s = max(1, math.ceil(self.settings.media_queue_seconds))
        if not self._media_admission.acquire(blocking=False):
            raise MediaBusy(
                "this server is already decoding as many uploads as it queues; send it again "
                f"in {retry_after_s} s",
                retry_after_s=retry_after_s,
            )
        try:
            started = threading.Event()

            def run() -> T:
                started.set()
                return work()

            future = self._media_pool.submit(run)
            if not started.wait(self.settings.media_queue_seconds) and future.cancel():
                raise MediaBusy(
                    f"no decoder came free within {self.settings.media_queue_seconds:g} s; send "
                    f"the upload again in {retry_after_s} s",
                    retry_after_s=retry_after_s,
                )
            return future.result()
        finally:
            self._media_admission.release()

    def close(self) -> None:
        self._media_pool.shutdown(wait=False, cancel_futures=True)

    def detect_and_embed(self, frames: list[np.ndarray]) -> list[list[DetectedFace]]:
        # One model instance per process; its native code is not documented as thread-safe.
        with self._backend_lock:
            return self.backend.detect_and_embed(frames)


async def get_likeness(request: Request) -> LikenessRuntime:
    """Async: no I/O, so no hand-off to the thread pool."""
    return request.app.state.likeness


LikenessDep = Annotated[LikenessRuntime, Depends(get_likeness)]
