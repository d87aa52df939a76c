"""Exact search over one model's templates: a chunked float32 matrix, scored with NumPy or torch.

The vectors live in fixed-size chunks (``chunk_rows`` rows each, only the last one partly
filled), so the index never holds more than one chunk of spare rows and growing it never
copies the whole matrix. Deletion is swap-remove: the last row moves into the hole, which
keeps every chunk but the last full and the global row ``g`` at chunk ``g // chunk_rows``.

Each chunk has a version, bumped on every write, so the torch scorer can keep a copy of a
chunk on the GPU and upload it again only when it changed.
"""

import threading
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from likeness.index.types import (
    UUID_DTYPE,
    FaceMatch,
    FloatMatrix,
    IdArray,
    best_per_likeness,
    present_in,
)

if TYPE_CHECKING:
    import torch

# Candidates fetched per wanted match before deduplicating per likeness; a likeness usually
# has a handful of templates, and a short fetch is retried with a larger one.
OVERFETCH = 4
# Queries scored together: one pass over the matrix serves the block, and the block's score
# matrix (block x templates float32) stays bounded, 128 MB at a million templates.
QUERY_BLOCK = 32
# A growing last chunk gains a quarter of its capacity, so spare rows stay under 25% of one
# chunk; bulk adds allocate exactly what they fill.
GROWTH = 1.25
MIN_CAPACITY = 16


class _Chunk:
    """Up to ``chunk_rows`` templates: their unit vectors and ids, and a write version."""

    __slots__ = ("device_copy", "likeness_ids", "size", "template_ids", "vectors", "version")

    def __init__(self, *, dimension: int, capacity: int) -> None:
        self.vectors: FloatMatrix = np.empty((capacity, dimension), dtype=np.float32)
        self.template_ids: IdArray = np.empty(capacity, dtype=UUID_DTYPE)
        self.likeness_ids: IdArray = np.empty(capacity, dtype=UUID_DTYPE)
        self.size = 0
        self.version = 0
        self.device_copy: tuple[int, Any] | None = None

    @property
    def capacity(self) -> int:
        return self.vectors.shape[0]

    def reserve(self, rows: int, *, limit: int) -> None:
        if rows <= self.capacity:
            return
        capacity = min(limit, max(rows, int(self.capacity * GROWTH), MIN_CAPACITY))
        for name in ("vectors", "template_ids", "likeness_ids"):
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def nbytes(self) -> int:
        return self.vectors.nbytes + self.template_ids.nbytes + self.likeness_ids.nbytes


class Scorer(Protocol):
    """Computes query-template similarities and picks the best candidates of one query."""

    def scores(self, *, chunks: list["_Chunk"], queries: FloatMatrix, total: int) -> Any: ...

    def best(
        self, *, row: Any, count: int, min_similarity: float
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...


class NumpyScorer:
    """Similarities by BLAS matrix product on the CPU."""

    def scores(self, *, chunks: list[_Chunk], queries: FloatMatrix, total: int) -> FloatMatrix:
        out = np.empty((queries.shape[0], total), dtype=np.float32)
        start = 0
        for chunk in chunks:
            stop = start + chunk.size
            if queries.shape[0] == 1:
                # One query: matrix-vector product, several times faster in BLAS than a
                # one-row matrix product at small sizes.
                np.matmul(chunk.vectors[: chunk.size], queries[0], out=out[0, start:stop])
            else:
                np.matmul(queries, chunk.vectors[: chunk.size].T, out=out[:, start:stop])
            start = stop
        return out

    def best(
        self, *, row: FloatMatrix, count: int, min_similarity: float
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        candidates: npt.NDArray[np.int64] | None = None
        values = row
        if min_similarity > -1.0:
            # A threshold usually leaves few candidates: filtering first is one cheap pass,
            # and the partial sort then runs on the survivors only.
            candidates = np.flatnonzero(row >= min_similarity)
            values = row[candidates]
        if values.shape[0] > count:
            top = np.argpartition(values, values.shape[0] - count)[-count:]
        else:
            top = np.arange(values.shape[0])
        order = top[np.argsort(-values[top], kind="stable")]
        rows = order if candidates is None else candidates[order]
        return values[order], rows.astype(np.int64, copy=False)


class TorchScorer:
    """Similarities by torch matrix product on ``device`` (CUDA, or the CPU for tests).

    On the CPU the chunks are shared with torch without a copy; on a GPU each chunk is
    uploaded once and again only after a write changed it.
    """

    def __init__(self, *, device: str) -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)
        self._upload_lock = threading.Lock()

    def _chunk_tensor(self, chunk: _Chunk) -> "torch.Tensor":
        view = self._torch.from_numpy(chunk.vectors[: chunk.size])
        if self.device.type == "cpu":
            return view
        with self._upload_lock:
            cached = chunk.device_copy
            if cached is None or cached[0] != chunk.version:
                cached = (chunk.version, view.to(self.device, non_blocking=False))
                chunk.device_copy = cached
            return cached[1]

    def scores(self, *, chunks: list[_Chunk], queries: FloatMatrix, total: int) -> "torch.Tensor":
        torch = self._torch
        query_tensor = torch.from_numpy(queries).to(self.device)
        out = torch.empty((queries.shape[0], total), dtype=torch.float32, device=self.device)
        start = 0
        for chunk in chunks:
            torch.matmul(
                query_tensor,
                self._chunk_tensor(chunk).T,
                out=out[:, start : start + chunk.size],
            )
            start += chunk.size
        return out

    def best(
        self, *, row: "torch.Tensor", count: int, min_similarity: float
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        values, rows = self._torch.topk(row, min(count, row.shape[0]), sorted=True)
        values_np = values.cpu().numpy()
        rows_np = rows.cpu().numpy().astype(np.int64, copy=False)
        keep = values_np >= min_similarity
        return values_np[keep], rows_np[keep]


class ExactShard:
    """All templates of one model, searched exhaustively. Not locked: the index locks."""

    def __init__(self, *, dimension: int, chunk_rows: int) -> None:
        self.dimension = dimension
        self.chunk_rows = chunk_rows
        self._chunks: list[_Chunk] = []
        self.count = 0

    def add(self, *, vectors: FloatMatrix, template_ids: IdArray, likeness_ids: IdArray) -> None:
        position = 0
        total = vectors.shape[0]
        while position < total:
            if not self._chunks or self._chunks[-1].size == self.chunk_rows:
                capacity = min(self.chunk_rows, total - position)
                self._chunks.append(_Chunk(dimension=self.dimension, capacity=capacity))
            chunk = self._chunks[-1]
            take = min(self.chunk_rows - chunk.size, total - position)
            chunk.reserve(chunk.size + take, limit=self.chunk_rows)
            end = chunk.size + take
            chunk.vectors[chunk.size : end] = vectors[position : position + take]
            chunk.template_ids[chunk.size : end] = template_ids[position : position + take]
            chunk.likeness_ids[chunk.size : end] = likeness_ids[position : position + take]
            chunk.size = end
            chunk.version += 1
            position += take
        self.count += total

    def contains_templates(self, template_ids: IdArray) -> npt.NDArray[np.bool_]:
        found = np.zeros(template_ids.shape[0], dtype=bool)
        for chunk in self._chunks:
            found |= present_in(template_ids, chunk.template_ids[: chunk.size])
        return found

    def _rows_where(self, *, column: str, value: np.void) -> list[int]:
        rows: list[int] = []
        for number, chunk in enumerate(self._chunks):
            hits = np.flatnonzero(getattr(chunk, column)[: chunk.size] == value)
            rows.extend((hits + number * self.chunk_rows).tolist())
        return rows

    def _swap_remove(self, rows: list[int]) -> int:
        # Highest first: the row moved into a hole is then never one still to be removed.
        for row in sorted(rows, reverse=True):
            last = self._chunks[-1]
            last_row = last.size - 1
            target = self._chunks[row // self.chunk_rows]
            offset = row % self.chunk_rows
            if target is not last or offset != last_row:
                target.vectors[offset] = last.vectors[last_row]
                target.template_ids[offset] = last.template_ids[last_row]
                target.likeness_ids[offset] = last.likeness_ids[last_row]
                target.version += 1
            last.size -= 1
            last.version += 1
            if last.size == 0:
                self._chunks.pop()
            self.count -= 1
        return len(rows)

    def remove_likeness(self, likeness_id: np.void) -> int:
        return self._swap_remove(self._rows_where(column="likeness_ids", value=likeness_id))

    def export(self) -> tuple[FloatMatrix, IdArray, IdArray]:
        """Copies of every vector and id, in row order (to build an approximate index)."""
        if not self._chunks:
            empty = np.empty(0, dtype=UUID_DTYPE)
            return np.empty((0, self.dimension), dtype=np.float32), empty, empty.copy()
        return (
            np.concatenate([chunk.vectors[: chunk.size] for chunk in self._chunks]),
            np.concatenate([chunk.template_ids[: chunk.size] for chunk in self._chunks]),
            np.concatenate([chunk.likeness_ids[: chunk.size] for chunk in self._chunks]),
        )

    def memory_bytes(self) -> int:
        return sum(chunk.nbytes() for chunk in self._chunks)

    def search(
        self, *, queries: FloatMatrix, k: int, min_similarity: float, scorer: Scorer
    ) -> list[list[FaceMatch]]:
        if self.count == 0:
            return [[] for _ in range(queries.shape[0])]
        results: list[list[FaceMatch]] = []
        for start in range(0, queries.shape[0], QUERY_BLOCK):
            block = queries[start : start + QUERY_BLOCK]
            scores = scorer.scores(chunks=self._chunks, queries=block, total=self.count)
            for number in range(block.shape[0]):
                results.append(
                    self._best_likenesses(
                        row=scores[number], k=k, min_similarity=min_similarity, scorer=scorer
                    )
                )
        return results

    def _best_likenesses(
        self, *, row: Any, k: int, min_similarity: float, scorer: Scorer
    ) -> list[FaceMatch]:
        count = min(self.count, k * OVERFETCH)
        while True:
            similarities, rows = scorer.best(row=row, count=count, min_similarity=min_similarity)
            chunk_numbers = rows // self.chunk_rows
            offsets = rows % self.chunk_rows
            likeness_ids = np.empty(rows.shape[0], dtype=UUID_DTYPE)
            template_ids = np.empty(rows.shape[0], dtype=UUID_DTYPE)
            for slot, (number, offset) in enumerate(
                zip(chunk_numbers.tolist(), offsets.tolist(), strict=True)
            ):
                likeness_ids[slot] = self._chunks[number].likeness_ids[offset]
                template_ids[slot] = self._chunks[number].template_ids[offset]
            matches = best_per_likeness(
                similarities=similarities,
                likeness_ids=likeness_ids,
                template_ids=template_ids,
                k=k,
            )
            # Fewer than k likenesses from a full fetch: the next likeness may hide below the
            # duplicates, so fetch more rather than return an incomplete answer.
            if len(matches) >= k or rows.shape[0] < count or count >= self.count:
                return matches
            count = min(self.count, count * 4)
