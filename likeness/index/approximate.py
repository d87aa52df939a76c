"""Approximate search over one model's templates with a FAISS IVF-Flat index.

Why IVF-Flat: it stores each vector once, as float32, in the inverted list of its nearest
centroid, plus an 8-byte id; with ``nlist`` centroids that is about 1.02x the raw vectors
(before our 33 bytes of ids per template), inside the 1.2x memory budget, while HNSW keeps
2*M neighbour links per vector (1.5x at M=32). Similarities come from the stored float32
vectors, so a candidate's score is exact; only candidates in unprobed lists can be missed.
Removal is native (``remove_ids``), so a deleted likeness is gone from the lists at once.

Why so many probes: face embeddings crowd into a narrow cap (dlib: one person 0.95-0.98,
two people 0.81-0.83), and a lookalike just above the 0.90 threshold differs from a query
mostly in directions the coarse quantizer cannot see: once the part every face shares
(~0.82) is taken out, the two correlate only about (0.90 - 0.82) / (1 - 0.82) = 0.44, so
k-means lists, balanced as they are, do not keep them together. bench/likeness.py
(clustered dlib-like faces, 3,000 queries above the threshold) at 100k showed the person
photographed always found but lookalikes at 0.900-0.914 missed: recall of every match
above the threshold was 0.956 with the old 64 of 1024 lists.
What decides recall is the share of the data scanned, and fewer, larger lists did slightly
better at the same share (sweeps of nlist x nprobe with the bench's data and recall code):

    100k, nlist 256:  1/4 probed 0.983, 1/2 0.996, all 1.0
    100k, nlist 512:  1/4 0.989, 1/2 0.997;  nlist 1024: 1/4 0.989, 1/2 0.997
    1M,   nlist 1024: 1/8 0.966, 1/4 0.984, 3/8 0.993, 1/2 0.997, 3/4 0.9999

So ``nlist`` is about sqrt(n) rounded to a power of two (1024 at a million), bounded so each
centroid trains on at least 39 vectors, and ``nprobe`` is half of it: recall 0.996 at 100k
and 0.997 at 1M. A single query then scans half the vectors on one core: p50 19 ms,
p99 31 ms at a million on this 2-core machine, far above the 5 ms target (README bench):
approximate search pays off only where exact search is slower still. HNSW was measured too
and left out: at 100k, M=16 reached 0.9825 at efSearch 256 while its links cost 25% over
the raw vectors, and FAISS cannot remove a vector from it.

The FAISS id of a template is its slot in our id arrays; freed slots are reused. FAISS grows
each inverted list as a ``std::vector`` that doubles its capacity, so after enough adds
every list could hold twice its vectors: the shard rewrites the lists at their exact size
(``compact``) once a sixteenth of the lists may have grown, bounding that overhead to ~6%.
"""

from typing import Any

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

OVERFETCH = 4
GROWTH = 1.25
MIN_POINTS_PER_CENTROID = 39
TRAINING_POINTS_PER_CENTROID = 40
# FAISS's k-means is seeded so a rebuild of the same templates gives the same index.
TRAINING_SEED = 1234


def choose_nlist(count: int) -> int:
    """Inverted lists for ``count`` templates: ~sqrt(n), a power of two, trainable."""
    wanted = max(1.0, np.sqrt(count))
    nlist = 1 << int(np.round(np.log2(wanted)))
    trainable = max(1, count // MIN_POINTS_PER_CENTROID)
    while nlist > trainable:
        nlist //= 2
    return max(1, nlist)


class ApproximateShard:
    """All templates of one model in a FAISS IVF-Flat index. Not locked: the index locks."""

    def __init__(
        self,
        *,
        dimension: int,
        vectors: FloatMatrix,
        template_ids: IdArray,
        likeness_ids: IdArray,
        nprobe: int | None,
    ) -> None:
        import faiss  # here, not at the top: importing the index must stay light

        self._faiss = faiss
        self.dimension = dimension
        count = vectors.shape[0]
        self.trained_count = count
        self.nlist = choose_nlist(count)
        self._quantizer = faiss.IndexFlatIP(dimension)
        self._index: Any = faiss.IndexIVFFlat(
            self._quantizer, dimension, self.nlist, faiss.METRIC_INNER_PRODUCT
        )
        self._index.cp.seed = TRAINING_SEED
        sample_size = min(count, self.nlist * TRAINING_POINTS_PER_CENTROID)
        sample = np.random.default_rng(TRAINING_SEED).choice(count, sample_size, replace=False)
        self._index.train(vectors[np.sort(sample)])
        self.nprobe = min(self.nlist, nprobe or max(1, self.nlist // 2))
        self._index.nprobe = self.nprobe
        # Slot-indexed ids; a free slot has live == False and sits in _free_slots.
        self._template_ids: IdArray = np.empty(0, dtype=UUID_DTYPE)
        self._likeness_ids: IdArray = np.empty(0, dtype=UUID_DTYPE)
        self._live: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._used_slots = 0
        self._free_slots: list[int] = []
        self._adds_since_compaction = 0
        self.count = 0
        self.add(vectors=vectors, template_ids=template_ids, likeness_ids=likeness_ids)
        self.compact()

    def _allocate_slots(self, count: int) -> npt.NDArray[np.int64]:
        reused = [self._free_slots.pop() for _ in range(min(count, len(self._free_slots)))]
        fresh = count - len(reused)
        if self._used_slots + fresh > self._live.shape[0]:
            capacity = max(self._used_slots + fresh, int(self._live.shape[0] * GROWTH))
            for name in ("_template_ids", "_likeness_ids", "_live"):
                old = getattr(self, name)
                new = np.zeros(capacity, dtype=old.dtype)
                new[: self._used_slots] = old[: self._used_slots]
                setattr(self, name, new)
        slots = np.concatenate(
            [
                np.asarray(reused, dtype=np.int64),
                np.arange(self._used_slots, self._used_slots + fresh, dtype=np.int64),
            ]
        )
        self._used_slots += fresh
        return slots

    def add(self, *, vectors: FloatMatrix, template_ids: IdArray, likeness_ids: IdArray) -> None:
        if vectors.shape[0] == 0:
            return
        slots = self._allocate_slots(vectors.shape[0])
        self._template_ids[slots] = template_ids
        self._likeness_ids[slots] = likeness_ids
        self._live[slots] = True
        self._index.add_with_ids(vectors, slots)
        self.count += vectors.shape[0]
        self._adds_since_compaction += vectors.shape[0]
        if self._adds_since_compaction > max(1, self.nlist // 16):
            self.compact()

    def compact(self) -> None:
        """Rewrite the inverted lists at their exact size, dropping the vectors' spare capacity."""
        faiss = self._faiss
        old = self._index.invlists
        code_size = old.code_size
        fresh = faiss.ArrayInvertedLists(self.nlist, code_size)
        for list_number in range(self.nlist):
            size = old.list_size(list_number)
            if size == 0:
                continue
            ids = faiss.rev_swig_ptr(old.get_ids(list_number), size).copy()
            codes = faiss.rev_swig_ptr(old.get_codes(list_number), size * code_size).copy()
            fresh.add_entries(list_number, size, faiss.swig_ptr(ids), faiss.swig_ptr(codes))
        self._index.replace_invlists(fresh, True)
        fresh.this.disown()
        self._adds_since_compaction = 0

    def contains_templates(self, template_ids: IdArray) -> npt.NDArray[np.bool_]:
        used = self._used_slots
        # Freed slots keep their old ids: mask them out of the comparison instead of copying.
        found = present_in(template_ids, self._template_ids[:used])
        if found.any() and not self._live[:used].all():
            live = self._template_ids[:used][self._live[:used]]
            found = present_in(template_ids, live)
        return found

    def _remove_slots(self, slots: npt.NDArray[np.int64]) -> int:
        if slots.shape[0] == 0:
            return 0
        removed = int(self._index.remove_ids(slots))
        if removed != slots.shape[0]:
            raise RuntimeError(f"FAISS removed {removed} of {slots.shape[0]} templates")
        self._live[slots] = False
        self._free_slots.extend(slots.tolist())
        self.count -= removed
        return removed

    def _live_slots_where(self, *, ids: IdArray, value: np.void) -> npt.NDArray[np.int64]:
        used = self._used_slots
        return np.flatnonzero((ids[:used] == value) & self._live[:used]).astype(np.int64)

    def remove_likeness(self, likeness_id: np.void) -> int:
        return self._remove_slots(self._live_slots_where(ids=self._likeness_ids, value=likeness_id))

    def export(self) -> tuple[FloatMatrix, IdArray, IdArray]:
        """Copies of every vector and id, read back from the inverted lists."""
        faiss = self._faiss
        invlists = self._index.invlists
        vectors = np.empty((self.count, self.dimension), dtype=np.float32)
        slots = np.empty(self.count, dtype=np.int64)
        position = 0
        for list_number in range(self.nlist):
            size = invlists.list_size(list_number)
            if size == 0:
                continue
            codes = faiss.rev_swig_ptr(invlists.get_codes(list_number), size * invlists.code_size)
            vectors[position : position + size] = codes.view(np.float32).reshape(size, -1)
            slots[position : position + size] = faiss.rev_swig_ptr(
                invlists.get_ids(list_number), size
            )
            position += size
        return vectors, self._template_ids[slots], self._likeness_ids[slots]

    def memory_bytes(self) -> int:
        """Centroids, inverted lists (vectors and ids, at their compacted size) and our ids."""
        invlists = self._index.invlists
        stored = sum(invlists.list_size(number) for number in range(self.nlist))
        return (
            self.nlist * self.dimension * 4
            + stored * (invlists.code_size + 8)
            + self._template_ids.nbytes
            + self._likeness_ids.nbytes
            + self._live.nbytes
        )

    def search(
        self, *, queries: FloatMatrix, k: int, min_similarity: float
    ) -> list[list[FaceMatch]]:
        if self.count == 0:
            return [[] for _ in range(queries.shape[0])]
        fetch = min(self.count, k * OVERFETCH)
        similarities, slots = self._index.search(queries, fetch)
        results: list[list[FaceMatch]] = []
        for number in range(queries.shape[0]):
            row_fetch = fetch
            row_similarities, row_slots = similarities[number], slots[number]
            while True:
                matches = self._matches(row_similarities, row_slots, k, min_similarity)
                full = bool(row_slots[-1] >= 0 and row_similarities[-1] >= min_similarity)
                if len(matches) >= k or not full or row_fetch >= self.count:
                    break
                # Duplicates of few likenesses filled the fetch: ask FAISS for more.
                row_fetch = min(self.count, row_fetch * 4)
                more_similarities, more_slots = self._index.search(
                    queries[number : number + 1], row_fetch
                )
                row_similarities, row_slots = more_similarities[0], more_slots[0]
            results.append(matches)
        return results

    def _matches(
        self,
        similarities: npt.NDArray[np.float32],
        slots: npt.NDArray[np.int64],
        k: int,
        min_similarity: float,
    ) -> list[FaceMatch]:
        keep = (slots >= 0) & (similarities >= min_similarity)
        kept = slots[keep]
        return best_per_likeness(
            similarities=similarities[keep],
            likeness_ids=self._likeness_ids[kept],
            template_ids=self._template_ids[kept],
            k=k,
        )
