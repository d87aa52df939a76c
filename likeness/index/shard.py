"""One index shard: a :class:`FaceIndex` of some likenesses' templates and the vault generation
it reflects, run as a Ray actor by ``sharded.py`` (this module itself needs no Ray).

The shard moves from one generation of the vault (``face_index_generation``) to the next only
in order: a change counted as generation ``g`` is applied when the shard holds ``g - 1``;
one that arrives early waits in ``pending`` for the one before it; one it holds already is
skipped, so sending a change twice changes nothing. A load replaces everything with the
vault as of one generation and drops the pending changes it already contains. A search asks
for at least the generation its caller knows and gets :data:`BEHIND` instead of an answer
when the shard cannot show it within a short wait.
"""

import os
import threading
from dataclasses import dataclass, field
from uuid import UUID

import numpy.typing as npt

from likeness.index.batches import TemplateBatch
from likeness.index.face_index import FaceIndex
from likeness.index.types import FaceMatch

NOT_LOADED = -1  # a new (or restarted) shard: nothing from the vault yet
BEHIND = None  # a search's answer from a shard older than the caller asked for


@dataclass(frozen=True)
class ShardChange:
    """What one counted change to the active templates does to one shard (maybe nothing:
    every shard still moves to its generation)."""

    generation: int
    added: list[TemplateBatch] = field(default_factory=list)
    removed_likenesses: list[UUID] = field(default_factory=list)


class IndexShard:
    """Some likenesses' templates, searchable, at a known vault generation."""

    def __init__(
        self, *, device: str | None, approximate_threshold: int | None, nprobe: int | None
    ) -> None:
        self.index = FaceIndex(
            device=device, approximate_threshold=approximate_threshold, nprobe=nprobe
        )
        self.generation = NOT_LOADED
        self._pending: dict[int, ShardChange] = {}
        self._moved = threading.Condition()  # held while the generation moves; searches wait

    def load(self, *, generation: int, batches: list[TemplateBatch]) -> int:
        """Hold exactly ``batches``, the vault as of ``generation``, unless this shard is
        there already; returns the generation held."""
        with self._moved:
            if generation > self.generation:
                self.index.rebuild_batches(batches=batches)
                self.generation = generation
                self._pending = {g: c for g, c in self._pending.items() if g > generation}
                self._apply_pending()
                self._moved.notify_all()
            return self.generation

    def apply(self, change: ShardChange) -> int:
        """Apply ``change`` in its turn (now, or once the changes before it came); returns the
        generation held."""
        with self._moved:
            if change.generation > self.generation:
                self._pending[change.generation] = change
                self._apply_pending()
                self._moved.notify_all()
            return self.generation

    def _apply_pending(self) -> None:
        if self.generation == NOT_LOADED:
            return  # a change means nothing without the state before it: wait for a load
        while (change := self._pending.pop(self.generation + 1, None)) is not None:
            for likeness_id in change.removed_likenesses:
                self.index.remove_likeness(likeness_id=likeness_id)
            self.index.add_batches(batches=change.added)
            self.generation = change.generation

    def search(
        self,
        *,
        at_least: int,
        wait_s: float,
        model_key: str,
        queries: npt.NDArray,
        k: int,
        min_similarity: float,
    ) -> list[list[FaceMatch]] | None:
        """The index's answer once this shard holds generation ``at_least`` or newer (waiting
        up to ``wait_s`` for a change on its way), else :data:`BEHIND`."""
        with self._moved:
            if not self._moved.wait_for(lambda: self.generation >= at_least, timeout=wait_s):
                return BEHIND
        return self.index.search(
            model_key=model_key, queries=queries, k=k, min_similarity=min_similarity
        )

    def held_generation(self) -> int:
        return self.generation

    def count(self, model_key: str | None = None) -> int:
        return self.index.count(model_key=model_key)

    def memory_bytes(self) -> int:
        return self.index.memory_bytes()

    def pid(self) -> int:
        """This shard's process: its memory, or a handle on a stuck shard."""
        return os.getpid()
