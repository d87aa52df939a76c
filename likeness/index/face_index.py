"""The face index: which enrolled likenesses look like this face, per embedding model.

Templates of different models are never compared: each ``model_key`` ("dlib/resnet-v1",
"insightface/w600k_r50") has its own shard with its own dimension. A shard is searched
exactly (NumPy on the CPU, torch on a GPU) until it holds more than
``approximate_threshold`` templates, then it moves into a FAISS IVF-Flat index (see
``approximate.py``); it stays approximate until the next :meth:`FaceIndex.rebuild`.

Embeddings are checked and normalised on the way in (``batches.py``), so the similarity is
the cosine. Searches share a read lock and run concurrently; adds, removals and the swap of
a rebuild take the write lock (``locking.py``), so once :meth:`FaceIndex.remove_likeness`
returns no search, running or new, can return that likeness. Where exact search runs is
chosen in ``device.py``.
"""

from collections.abc import Iterable, Sequence
from uuid import UUID

import numpy as np
import numpy.typing as npt

from likeness.index.approximate import ApproximateShard
from likeness.index.batches import TemplateBatch, pack_batch, pack_by_model
from likeness.index.device import resolve_device, scorer_for
from likeness.index.exact import ExactShard, Scorer
from likeness.index.locking import ReadWriteLock
from likeness.index.types import (
    FaceIndexError,
    FaceMatch,
    FaceTemplate,
    FloatMatrix,
    IdArray,
    unit_rows,
    uuid_value,
)

# An approximate shard retrains its centroids when it has grown this many times past the
# count it was trained on, so nlist keeps up with the data.
RETRAIN_GROWTH = 4
DEFAULT_CHUNK_ROWS = 65_536

Shard = ExactShard | ApproximateShard


class FaceIndex:
    """Active face templates of every model, searchable by likeness.

    ``device``: "numpy" (CPU, BLAS), "cpu" or "cuda[:n]" (torch); default cuda when
    available, else numpy. ``approximate_threshold``: a model with more templates than this
    is searched with FAISS (needs the optional ``faiss`` package); None keeps every model
    exact. ``nprobe``: inverted lists probed per approximate query (default half of them).
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        approximate_threshold: int | None = None,
        nprobe: int | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        if approximate_threshold is not None and approximate_threshold < 1:
            raise FaceIndexError("approximate_threshold must be a positive count or None")
        if nprobe is not None and nprobe < 1:
            raise FaceIndexError("nprobe must be at least 1")
        if chunk_rows < 1:
            raise FaceIndexError("chunk_rows must be at least 1")
        self.device = resolve_device(device)
        self.approximate_threshold = approximate_threshold
        self.nprobe = nprobe
        self.chunk_rows = chunk_rows
        self._scorer: Scorer = scorer_for(self.device)
        self._shards: dict[str, Shard] = {}
        self._lock = ReadWriteLock()

    # -- writing -------------------------------------------------------------------------

    def add_template(
        self,
        *,
        template_id: UUID,
        likeness_id: UUID,
        model_key: str,
        embedding: npt.ArrayLike,
    ) -> None:
        """Make one enrolled template searchable."""
        self.add_template_batch(
            model_key=model_key,
            template_ids=[template_id],
            likeness_ids=[likeness_id],
            embeddings=np.asarray(embedding)[np.newaxis, :],
        )

    def add_templates(self, *, templates: Iterable[FaceTemplate]) -> int:
        """Make many templates searchable, all or none; returns how many were added."""
        return self.add_batches(batches=pack_by_model(templates))

    def add_batches(self, *, batches: Sequence[TemplateBatch]) -> int:
        """Make checked batches (``batches.py``) searchable, all or none (an index shard's
        changes arrive packed)."""
        with self._lock.writing():
            for batch in batches:
                self._check_addable(batch)
            for batch in batches:
                self._add_locked(batch)
        return sum(batch.count for batch in batches)

    def add_template_batch(
        self,
        *,
        model_key: str,
        template_ids: Sequence[UUID],
        likeness_ids: Sequence[UUID],
        embeddings: npt.ArrayLike,
    ) -> int:
        """Add templates of one model from an (n, d) matrix, the fast path for bulk loads."""
        batch = pack_batch(
            model_key=model_key,
            template_ids=template_ids,
            likeness_ids=likeness_ids,
            embeddings=embeddings,
        )
        with self._lock.writing():
            self._check_addable(batch)
            self._add_locked(batch)
        return batch.count

    def remove_likeness(self, *, likeness_id: UUID) -> int:
        """Remove every template of a likeness, in every model; returns how many went."""
        value = uuid_value(likeness_id)
        with self._lock.writing():
            return sum(shard.remove_likeness(value) for shard in self._shards.values())

    def rebuild(self, *, templates: Iterable[FaceTemplate]) -> int:
        """Replace the whole index with ``templates`` (the vault's active ones, on start).

        The new shards are built before the lock is taken, so searches keep answering from
        the old state meanwhile; templates added or removed during a rebuild are lost with
        the old state, so run it before serving writes.
        """
        return self.rebuild_batches(batches=pack_by_model(templates))

    def rebuild_batches(self, *, batches: Sequence[TemplateBatch]) -> int:
        """:meth:`rebuild` from checked batches, one per model."""
        shards: dict[str, Shard] = {
            batch.model_key: self._build_shard(
                batch.vectors, batch.template_ids, batch.likeness_ids
            )
            for batch in batches
            if batch.count
        }
        with self._lock.writing():
            self._shards = shards
        return sum(shard.count for shard in shards.values())

    # -- reading -------------------------------------------------------------------------

    def search(
        self,
        *,
        model_key: str,
        queries: npt.ArrayLike,
        k: int = 5,
        min_similarity: float = -1.0,
    ) -> list[list[FaceMatch]]:
        """For each query row, up to ``k`` likenesses best first, each once at its best.

        Only templates of ``model_key`` are compared; a model nobody enrolled with matches
        nothing. ``min_similarity`` drops matches below that cosine similarity.
        """
        if not isinstance(k, int) or k < 1:
            raise FaceIndexError(f"k must be a positive integer, not {k!r}")
        if not -1.0 <= float(min_similarity) <= 1.0:
            raise FaceIndexError(
                f"min_similarity must be a cosine in [-1, 1], not {min_similarity}"
            )
        vectors = unit_rows(queries, dimension=None, what="queries")
        with self._lock.reading():
            shard = self._shards.get(model_key)
            if shard is None:
                return [[] for _ in range(vectors.shape[0])]
            if vectors.shape[1] != shard.dimension:
                unit_rows(vectors, dimension=shard.dimension, what="queries")  # raises
            if isinstance(shard, ApproximateShard):
                return shard.search(queries=vectors, k=k, min_similarity=float(min_similarity))
            return shard.search(
                queries=vectors, k=k, min_similarity=float(min_similarity), scorer=self._scorer
            )

    def count(self, *, model_key: str | None = None) -> int:
        """Templates held, for one model or all."""
        with self._lock.reading():
            return sum(shard.count for shard in self._selected(model_key))

    def is_approximate(self, *, model_key: str) -> bool:
        """Whether this model's searches go through FAISS."""
        with self._lock.reading():
            return isinstance(self._shards.get(model_key), ApproximateShard)

    def memory_bytes(self, *, model_key: str | None = None) -> int:
        """Bytes held by vectors, ids and (approximate shards) centroids and list ids."""
        with self._lock.reading():
            return sum(shard.memory_bytes() for shard in self._selected(model_key))

    def vector_bytes(self, *, model_key: str | None = None) -> int:
        """Bytes of the raw float32 vectors alone, the yardstick for :meth:`memory_bytes`."""
        with self._lock.reading():
            return sum(shard.count * shard.dimension * 4 for shard in self._selected(model_key))

    # -- internals -----------------------------------------------------------------------

    def _selected(self, model_key: str | None) -> list[Shard]:
        if model_key is None:
            return list(self._shards.values())
        shard = self._shards.get(model_key)
        return [] if shard is None else [shard]

    def _check_addable(self, batch: TemplateBatch) -> None:
        shard = self._shards.get(batch.model_key)
        if shard is not None and shard.count and batch.vectors.shape[1] != shard.dimension:
            unit_rows(
                batch.vectors,
                dimension=shard.dimension,
                what=f"embeddings of model {batch.model_key!r}",
            )
        for other in self._shards.values():
            present = other.contains_templates(batch.template_ids)
            if present.any():
                first = int(np.flatnonzero(present)[0])
                existing = UUID(bytes=batch.template_ids[first].tobytes())
                raise FaceIndexError(
                    f"template {existing} is already in the face index; remove it first to "
                    "replace it"
                )

    def _add_locked(self, batch: TemplateBatch) -> None:
        if batch.count == 0:
            return
        shard = self._shards.get(batch.model_key)
        if shard is None or (shard.count == 0 and shard.dimension != batch.vectors.shape[1]):
            self._shards[batch.model_key] = self._build_shard(
                batch.vectors, batch.template_ids, batch.likeness_ids
            )
            return
        shard.add(
            vectors=batch.vectors, template_ids=batch.template_ids, likeness_ids=batch.likeness_ids
        )
        threshold = self.approximate_threshold
        crossed = (
            isinstance(shard, ExactShard) and threshold is not None and shard.count > threshold
        )
        outgrown = (
            isinstance(shard, ApproximateShard)
            and shard.count > RETRAIN_GROWTH * shard.trained_count
        )
        if crossed or outgrown:
            self._shards[batch.model_key] = self._build_shard(*shard.export())

    def _build_shard(
        self, vectors: FloatMatrix, template_ids: IdArray, likeness_ids: IdArray
    ) -> Shard:
        threshold = self.approximate_threshold
        if threshold is not None and vectors.shape[0] > threshold:
            return ApproximateShard(
                dimension=vectors.shape[1],
                vectors=vectors,
                template_ids=template_ids,
                likeness_ids=likeness_ids,
                nprobe=self.nprobe,
            )
        shard = ExactShard(dimension=vectors.shape[1], chunk_rows=self.chunk_rows)
        shard.add(vectors=vectors, template_ids=template_ids, likeness_ids=likeness_ids)
        return shard
