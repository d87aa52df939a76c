"""The face index: which enrolled likenesses look like this face, per embedding model.

Templates of different models are never compared: each ``model_key`` ("dlib/resnet-v1",
"insightface/w600k_r50") has its own shard with its own dimension. A shard is searched
exactly (NumPy on the CPU, torch on a GPU) until it holds more than
``approximate_threshold`` templates, then it moves into a FAISS IVF-Flat index (see
``approximate.py``); it stays approximate until the next :meth:`FaceIndex.rebuild`.

Embeddings are normalised on the way in (see :func:`likeness.index.types.unit_rows`), so the
similarity is the cosine. Searches share a read lock and run concurrently; adds, removals
and the swap of a rebuild take the write lock, so once :meth:`FaceIndex.remove_likeness`
returns no search, running or new, can return that likeness.
"""

import importlib.util
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from uuid import UUID

import numpy as np
import numpy.typing as npt

from likeness.index.approximate import ApproximateShard, import_faiss
from likeness.index.exact import ExactShard, NumpyScorer, Scorer, TorchScorer
from likeness.index.types import (
    FaceIndexError,
    FaceMatch,
    FaceTemplate,
    FloatMatrix,
    IdArray,
    unit_rows,
    uuid_array,
    uuid_value,
)

# An approximate shard retrains its centroids when it has grown this many times past the
# count it was trained on, so nlist keeps up with the data.
RETRAIN_GROWTH = 4
DEFAULT_CHUNK_ROWS = 65_536

Shard = ExactShard | ApproximateShard


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer holds off new readers so it cannot starve."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if self._readers == 0:
                    self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def resolve_device(device: str | None) -> str:
    """``device`` checked, or the default: "cuda" when torch sees a GPU, else "numpy"."""
    if device is None:
        if importlib.util.find_spec("torch") is None:
            return "numpy"
        import torch

        return "cuda" if torch.cuda.is_available() else "numpy"
    if device == "numpy":
        return device
    if importlib.util.find_spec("torch") is None:
        raise FaceIndexError(f"device {device!r} needs torch, which is not installed; use 'numpy'")
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise FaceIndexError(f"unknown device {device!r}; use 'numpy', 'cpu' or 'cuda'") from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise FaceIndexError(f"device {device!r} asked for but torch sees no CUDA GPU")
    if parsed.type not in ("cpu", "cuda"):
        raise FaceIndexError(f"device {device!r} is not supported; use 'numpy', 'cpu' or 'cuda'")
    return device


class FaceIndex:
    """Active face templates of every model, searchable by likeness.

    ``device``: "numpy" (CPU, BLAS), "cpu" or "cuda[:n]" (torch); default cuda when
    available, else numpy. ``approximate_threshold``: a model with more templates than this
    is searched with FAISS (needs the optional ``faiss`` package); None keeps every model
    exact. ``nprobe``: inverted lists probed per approximate query (default 3/64 of them).
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        approximate_threshold: int | None = None,
        nprobe: int | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        if approximate_threshold is not None:
            if approximate_threshold < 1:
                raise FaceIndexError("approximate_threshold must be a positive count or None")
            if importlib.util.find_spec("faiss") is None:
                import_faiss()  # raises the error that says how to install it
        if nprobe is not None and nprobe < 1:
            raise FaceIndexError("nprobe must be at least 1")
        if chunk_rows < 1:
            raise FaceIndexError("chunk_rows must be at least 1")
        self.device = resolve_device(device)
        self.approximate_threshold = approximate_threshold
        self.nprobe = nprobe
        self.chunk_rows = chunk_rows
        self._scorer: Scorer = (
            NumpyScorer() if self.device == "numpy" else TorchScorer(device=self.device)
        )
        self._shards: dict[str, Shard] = {}
        self._lock = _ReadWriteLock()

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
        batches = _group_by_model(templates)
        prepared = [
            self._prepare(model_key=model_key, template_ids=tids, likeness_ids=lids, rows=rows)
            for model_key, (tids, lids, rows) in batches.items()
        ]
        with self._lock.writing():
            for model_key, vectors, template_ids, _ in prepared:
                self._check_addable(model_key, vectors, template_ids)
            for model_key, vectors, template_ids, likeness_ids in prepared:
                self._add_locked(model_key, vectors, template_ids, likeness_ids)
        return sum(vectors.shape[0] for _, vectors, _, _ in prepared)

    def add_template_batch(
        self,
        *,
        model_key: str,
        template_ids: Sequence[UUID],
        likeness_ids: Sequence[UUID],
        embeddings: npt.ArrayLike,
    ) -> int:
        """Add templates of one model from an (n, d) matrix, the fast path for bulk loads."""
        model_key, vectors, tids, lids = self._prepare(
            model_key=model_key,
            template_ids=template_ids,
            likeness_ids=likeness_ids,
            rows=embeddings,
        )
        with self._lock.writing():
            self._check_addable(model_key, vectors, tids)
            self._add_locked(model_key, vectors, tids, lids)
        return vectors.shape[0]

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
        shards: dict[str, Shard] = {}
        for model_key, (tids, lids, rows) in _group_by_model(templates).items():
            model_key, vectors, template_ids, likeness_ids = self._prepare(
                model_key=model_key, template_ids=tids, likeness_ids=lids, rows=rows
            )
            shards[model_key] = self._build_shard(vectors, template_ids, likeness_ids)
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

    def _prepare(
        self,
        *,
        model_key: str,
        template_ids: Sequence[UUID],
        likeness_ids: Sequence[UUID],
        rows: npt.ArrayLike | list[npt.ArrayLike],
    ) -> tuple[str, FloatMatrix, IdArray, IdArray]:
        if not isinstance(model_key, str) or not model_key:
            raise FaceIndexError("model_key must name the embedding model, e.g. 'dlib/resnet-v1'")
        if isinstance(rows, list):
            shapes = {np.shape(row) for row in rows}
            if len(shapes) > 1:
                raise FaceIndexError(
                    f"embeddings of model {model_key!r} have different shapes {sorted(shapes)}"
                )
            rows = np.stack([np.asarray(row) for row in rows]) if rows else np.empty((0, 0))
        vectors = unit_rows(rows, dimension=None, what=f"embeddings of model {model_key!r}")
        if not (vectors.shape[0] == len(template_ids) == len(likeness_ids)):
            raise FaceIndexError(
                f"{vectors.shape[0]} embeddings for {len(template_ids)} template ids and "
                f"{len(likeness_ids)} likeness ids; give one of each per template"
            )
        template_array = uuid_array(tuple(template_ids))
        if np.unique(template_array).shape[0] != template_array.shape[0]:
            raise FaceIndexError("a template id appears twice in one add; each must be unique")
        return model_key, vectors, template_array, uuid_array(tuple(likeness_ids))

    def _check_addable(self, model_key: str, vectors: FloatMatrix, template_ids: IdArray) -> None:
        shard = self._shards.get(model_key)
        if shard is not None and shard.count and vectors.shape[1] != shard.dimension:
            unit_rows(vectors, dimension=shard.dimension, what=f"embeddings of model {model_key!r}")
        for other in self._shards.values():
            present = other.contains_templates(template_ids)
            if present.any():
                existing = UUID(bytes=template_ids[int(np.flatnonzero(present)[0])].tobytes())
                raise FaceIndexError(
                    f"template {existing} is already in the face index; remove it first to "
                    "replace it"
                )

    def _add_locked(
        self, model_key: str, vectors: FloatMatrix, template_ids: IdArray, likeness_ids: IdArray
    ) -> None:
        if vectors.shape[0] == 0:
            return
        shard = self._shards.get(model_key)
        if shard is None or (shard.count == 0 and shard.dimension != vectors.shape[1]):
            self._shards[model_key] = self._build_shard(vectors, template_ids, likeness_ids)
            return
        shard.add(vectors=vectors, template_ids=template_ids, likeness_ids=likeness_ids)
        threshold = self.approximate_threshold
        crossed = (
            isinstance(shard, ExactShard) and threshold is not None and shard.count > threshold
        )
        outgrown = (
            isinstance(shard, ApproximateShard)
            and shard.count > RETRAIN_GROWTH * shard.trained_count
        )
        if crossed or outgrown:
            self._shards[model_key] = self._build_shard(*shard.export())

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


def _group_by_model(
    templates: Iterable[FaceTemplate],
) -> dict[str, tuple[list[UUID], list[UUID], list[npt.ArrayLike]]]:
    groups: dict[str, tuple[list[UUID], list[UUID], list[npt.ArrayLike]]] = defaultdict(
        lambda: ([], [], [])
    )
    for template in templates:
        template_ids, likeness_ids, rows = groups[template.model_key]
        template_ids.append(template.template_id)
        likeness_ids.append(template.likeness_id)
        rows.append(template.embedding)
    return dict(groups)
