"""The first pass of the name-free search: the assets whose centroids a prompt is closest to,
read from half-precision copies and settled exactly.

Every prompt is compared with every asset's centroid. In float32, 10,000 centroids are 15 MB,
read in full for each prompt: they and the sentence model's weights push each other out of
the processor's cache. Scanning the bench's 10,000 centroids after each prompt's embedding, as
a request does, on the busy 2-core machine: 0.9-1.6 ms a prompt on average (0.3 ms at the
median), the largest single cost of the text check then. A float16 copy of each centroid is
half the bytes, and FAISS's scalar quantizer scans it with SIMD instructions: 0.33-0.36 ms on
average in the same loop.

The result is the one the float32 scan gives, not an approximation of it. A unit vector's
float16 copy is within 2^-11 of it (round to nearest, relative error 2^-11 per component;
components too small for a normal float16 add at most 384 x 2^-25), so a prompt's score
against the copy is within 4.9e-4 of its score against the centroid, plus float32 rounding
(384 x 2^-24 each for FAISS's sum and ours). The scan fetches ``count`` and a margin of
further slots by their float16 scores, re-scores those from the float32 centroids, and keeps
the best ``count``: no slot left out can beat them when the last one kept scores more than
``SCORE_BOUND`` above the lowest float16 score fetched. When it does not (scores crowded at
the boundary), the float32 centroids are scanned in full.
"""

import numpy as np
import numpy.typing as npt

# 2^-11 (the copy) + 384 x 2^-25 (subnormal components) + 2 x 384 x 2^-24 (two sums), rounded up.
SCORE_BOUND = 6e-4
MARGIN = 32  # slots fetched beyond ``count``: the float16 order differs from the exact one


class CentroidScan:
    """Float16 copies of the centroids in slots ``0 .. capacity - 1``, and which are live.

    Not thread-safe on its own: `SemanticIndex` changes it under its catalogue's write lock
    and searches it under the read lock."""

    def __init__(self, *, dimension: int, capacity: int) -> None:
        import faiss  # with the first catalogue (the app's start), not with the API's modules

        self._faiss = faiss
        self._index = faiss.IndexScalarQuantizer(
            dimension, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        self._dimension = dimension
        self._capacity = 0
        self._live = np.zeros(0, dtype=bool)
        self.grow(capacity)

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` slots; the new ones empty."""
        added = capacity - self._capacity
        self._index.add(np.zeros((added, self._dimension), dtype=np.float32))
        self._capacity = capacity
        self._live = np.concatenate([self._live, np.zeros(added, dtype=bool)])
        # The index's codes moved with its growth: a float16 view of them, written in place.
        codes = self._faiss.rev_swig_ptr(self._index.codes.data(), self._index.codes.size())
        self._copies = codes.view(np.float16).reshape(capacity, self._dimension)
        self._selection()

    def put(self, slot: int, centroid: npt.NDArray[np.float32]) -> None:
        self._copies[slot] = centroid.astype(np.float16)
        self._live[slot] = True
        self._bitmap[slot >> 3] |= 1 << (slot & 7)  # read by the selector in place

    def remove(self, slot: int) -> None:
        self._copies[slot] = 0
        self._live[slot] = False
        self._bitmap[slot >> 3] &= ~(1 << (slot & 7)) & 0xFF

    def closest(
        self, query: npt.NDArray[np.float32], count: int, *, centroids: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.intp]:
        """The ``count`` live slots whose ``centroids`` score highest against ``query``, best
        first. ``centroids``: float32, by slot, up to the highest slot ever filled; ``count``:
        at most the live slots."""
        fetch = count + MARGIN
        # OpenMP's thread count is the calling thread's own: one, every time. A team of two for
        # one prompt cost 3 ms of CPU and 6 ms of waiting on the busy 2-core machine (its other
        # thread spinning or descheduled) against 0.35 ms alone; requests run side by side.
        self._faiss.omp_set_num_threads(1)
        copy_scores, fetched = self._index.search(query[None], fetch, params=self._parameters)
        fetched = fetched[0][fetched[0] >= 0]  # -1 pads when fewer slots are live
        scores = centroids[fetched] @ query
        order = np.argsort(-scores, kind="stable")
        if len(fetched) < fetch:  # every live slot was fetched
            return fetched[order[:count]]
        if scores[order[count - 1]] > copy_scores[0][-1] + SCORE_BOUND:
            return fetched[order[:count]]
        return self.scan_all(query, count, centroids=centroids)

    def scan_all(
        self, query: npt.NDArray[np.float32], count: int, *, centroids: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.intp]:
        """`closest` from the float32 centroids alone: every slot read."""
        scores = np.where(self._live[: len(centroids)], centroids @ query, -np.inf)
        best = np.argpartition(-scores, count - 1)[:count]
        return best[np.argsort(-scores[best], kind="stable")]

    def _selection(self) -> None:
        """The search parameters that limit FAISS to the live slots: a bitmap it reads."""
        self._bitmap = np.packbits(self._live, bitorder="little")
        self._selector = self._faiss.IDSelectorBitmap(
            self._capacity, self._faiss.swig_ptr(self._bitmap)
        )
        self._parameters = self._faiss.SearchParameters(sel=self._selector)
