"""What a running app holds for likeness work: its media workers, the index, the key store.

Built in the app's lifespan. The face model runs in media worker processes
(likeness.media_workers), or on Ray scan actors when a cluster is configured
(likeness/ray_scan.py); workers load it on first use (dlib's weights take a second, and most
requests never need them); the index is rebuilt from the vault at start. With
``face_index_shards`` set, the index lives on Ray actors shared by every API process
(likeness/index/sharded.py): this process then only tells them its changes and the vault
generation it knows.
"""

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from clearhouse.changes import Freshness
from clearhouse.db import after_commit, snapshot_session
from clearhouse.media import MediaLimits
from clearhouse.sealed_secrets import configured_master_key
from clearhouse.settings import Settings
from likeness import media_workers, vault
from likeness.index import FaceIndex
from likeness.index.batches import TemplateBatch, pack_by_model
from likeness.key_store import LikenessKeyStore, open_key_store
from likeness.media_workers import MediaWorkers, WorkerConfig, worker_face_model

if TYPE_CHECKING:
    from likeness.index.sharded import ShardedFaceIndex, VaultSnapshot

T = TypeVar("T")
Item = TypeVar("Item")


def configured_key_store(settings: Settings) -> LikenessKeyStore:
    """The likeness key store the settings name, its keys wrapped by the master key."""
    return open_key_store(
        path=settings.likeness_key_store_path,
        url=settings.likeness_key_store_url,
        master_key=configured_master_key(settings),
        main_database_url=settings.resolved_database_url,
    )


@dataclass
class LikenessRuntime:
    settings: Settings
    key_store: LikenessKeyStore
    index: "FaceIndex | ShardedFaceIndex"
    # Whether another process's change was heard of (clearhouse.changes); without a channel,
    # every use reads the counter.
    freshness: Freshness = field(default_factory=lambda: Freshness(None))
    generation: int = -1  # the vault generation the index holds (-1: none loaded yet)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: MediaWorkers = field(init=False)

    def __post_init__(self) -> None:
        if self.settings.ray_address is not None:
            from likeness.ray_scan import start_ray_media_workers  # Ray only when configured

            self._workers = start_ray_media_workers(self.settings)
        else:
            self._workers = media_workers.attach(WorkerConfig.from_settings(self.settings))

    @property
    def media_requests_admitted(self) -> int:
        """Requests that may use or wait for a media worker at once; each holds its request
        thread meanwhile."""
        return self._workers.admitted

    @classmethod
    def start(
        cls, *, settings: Settings, engine: Engine, freshness: Freshness | None = None
    ) -> "LikenessRuntime":
        key_store = configured_key_store(settings)
        runtime = cls(
            settings=settings,
            key_store=key_store,
            index=FaceIndex(approximate_threshold=settings.face_index_approximate_after)
            if settings.face_index_shards is None
            else _start_shards(settings, read_vault=partial(_vault_snapshot, engine, key_store)),
            freshness=freshness or Freshness(None),
        )
        try:
            if settings.face_backend == "insightface":
                # The operator's model files must load now, in a media worker (the API
                # process never loads them): a server that cannot scan should not start.
                # (dlib's weights ship with the package; workers load them on first use.)
                runtime.run_media_work(partial(worker_face_model, settings.face_match_threshold))
            with Session(engine) as session:
                runtime.refresh(session)
        except BaseException:
            runtime.close()
            raise
        return runtime

    def refresh(self, session: Session, *, read_counter: bool = False) -> None:
        """Rebuild the index from the vault if another process changed the active templates.

        The counter is read only when a change was heard of or the channel cannot be trusted,
        or with ``read_counter``: under the counter's lock, for a check that must see every
        change committed before it, heard of yet or not."""
        if not read_counter and not self.freshness.must_check():
            return
        mark = self.freshness.before_check()
        current = vault.index_generation(session)
        if current != self.generation:
            with self._sync_lock:
                if current != self.generation:
                    if isinstance(self.index, FaceIndex):
                        templates = vault.open_templates(session, key_store=self.key_store)
                        self.index.rebuild(templates=templates)
                    else:  # the shards load from the vault themselves, when behind
                        self.index.follow(generation=current)
                    self.generation = current
        self.freshness.checked(mark)

    def change_index(self, session: Session, change: Callable[[FaceIndex], object]) -> None:
        """Count a change to the active templates now; apply it to this index on commit."""
        generation = vault.advance_index_generation(session)

        def apply() -> None:
            change(
                self.index
                if isinstance(self.index, FaceIndex)
                else self.index.changed_at(generation)
            )
            if self.generation == generation - 1:  # in step before: now in step again
                self.generation = generation

        after_commit(session, apply)

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
        """``work()`` (decoding, face detection) computed in one of this process's media
        workers (likeness.media_workers), never in the API process; with a Ray cluster
        configured, decoded here and its faces found by the Ray scan actors
        (likeness/ray_scan.py), under the same admission.

        Each decode and detection takes up to a few hundred megabytes and seconds of CPU, and
        dlib holds the interpreter lock while it detects, so only ``media_concurrency`` run at
        once, in processes of their own. A request waits at most ``media_queue_seconds`` for
        a worker and only a few wait at all, since route handlers run on the server's bounded
        thread pool and a queue of uploads there would hold up every other route, revocation
        included. The rest get a 503 (Retry-After).
        """
        return self._workers.run(work, queue_seconds=self.settings.media_queue_seconds)

    def run_media_split(
        self,
        items: Sequence[Item],
        work_for: Callable[[Sequence[Item], int], Callable[[], T]],
    ) -> list[T]:
        """As :meth:`run_media_work`, for work made of parts (``work_for(part, first)``, over
        consecutive parts of ``items``): spread over the media workers free when it is
        admitted (likeness.media_workers.MediaWorkers.run_split); the parts' results."""
        return self._workers.run_split(
            items, work_for, queue_seconds=self.settings.media_queue_seconds
        )

    def close(self) -> None:
        """This app is done with its media workers; other apps of the process may still use
        them (its Ray scan actors are its own)."""
        if self.settings.ray_address is not None:
            self._workers.shutdown()
        else:
            media_workers.detach(self._workers)


def _start_shards(settings: Settings, *, read_vault: "VaultSnapshot") -> "ShardedFaceIndex":
    """The installation's index shards on the Ray cluster, loaded from the vault where they
    are behind it (new, restarted, or left behind while no process was serving)."""
    import ray

    from likeness.index.sharded import (
        NAMESPACE,
        ShardedFaceIndex,
        installation_key,
        start_index_shards,
    )

    if not ray.is_initialized():
        ray.init(address=settings.ray_address, namespace=NAMESPACE, log_to_driver=False)
    index = ShardedFaceIndex(
        shards=start_index_shards(
            installation=installation_key(settings.resolved_database_url),
            shards=settings.face_index_shards,
            approximate_threshold=settings.face_index_approximate_after,
        ),
        read_vault=read_vault,
        deadline_s=settings.face_index_shard_deadline_seconds,
    )
    index.load_behind(start_within_s=settings.ray_start_seconds)
    return index


def _vault_snapshot(
    engine: Engine, key_store: LikenessKeyStore, keep: Callable[[uuid.UUID], bool]
) -> tuple[int, list[TemplateBatch]]:
    """The active templates of the likenesses ``keep`` keeps and the generation they make, read
    in one snapshot."""
    with snapshot_session(engine) as session:
        generation = vault.index_generation(session)
        templates = vault.open_templates(session, key_store=key_store, keep=keep)
        return generation, pack_by_model(templates)


async def get_likeness(request: Request) -> LikenessRuntime:
    """Async: no I/O, so no hand-off to the thread pool."""
    return request.app.state.likeness


LikenessDep = Annotated[LikenessRuntime, Depends(get_likeness)]
