"""The IP image check: which registered characters and styles an input picture shows.

Owners register reference pictures (rights/references/); each is held here as its
fingerprint (image_fingerprints.py: three 64-bit hashes in two channels, for the whole
picture, its mirror image and a grid of crops). An input picture matches a reference when,
in one channel, the summed Hamming distance of its three hashes to one of the reference's
views is at most ``MATCH_DISTANCE`` of 192 bits. Faces are not looked for here: they go
through the likeness index.

The search is exact and runs over packed words with NumPy's popcount, in two passes: the
pHash of each channel against every view of every reference (about 2 ns a word), then the
full distance for the few views within ``SHORTLIST_DISTANCE`` pHash bits (no match can be
further in pHash than the full distance allows, and the shortlist bound is tighter still;
tests/rights/matching/ shows what it costs in recall: nothing on the quality set).

Searches share a read lock; adding or removing a reference takes the write lock, so once
:meth:`ReferenceImageIndex.remove` returns, no search, running or new, returns it.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from clearhouse.media import MediaLimits, PixelBudget, decode_image
from likeness.index.locking import ReadWriteLock
from rights.matching.image_fingerprints import (
    BITS_PER_VIEW,
    CHANNELS,
    HASHES,
    PHASH,
    VIEWS,
    input_fingerprint,
)

#: Summed distance (of 192 bits, one channel) at or under which a view matches. Chosen on
#: drawn characters of other seeds than the tests' (3, 7 and 11 of
#: tests/drawn_characters.py): at 25, 2 of 900 pictures of other characters matched one of
#: 50 registered ones, and 98% of crops to 80% were found; at 27, 3% matched.
MATCH_DISTANCE = 25

#: pHash distance (of 64 bits) under which a view is scored in full.
SHORTLIST_DISTANCE = 16

#: Slots scanned at once: keeps the temporaries of one pass in the processor's cache.
CHUNK_SLOTS = 2048


@dataclass(frozen=True)
class ImageMatch:
    """A registered asset an input picture shows: which input, which reference, how close.

    ``score`` is 1 - distance / 192: 1.0 for the same hashes, at least
    1 - MATCH_DISTANCE / 192 (0.870) for any match.
    """

    asset_id: uuid.UUID
    reference_id: uuid.UUID
    input_index: int
    score: float
    kind: Literal["reference_image"] = "reference_image"


@dataclass(frozen=True)
class IndexedReference:
    """One reference picture as the index holds it."""

    reference_id: uuid.UUID
    asset_id: uuid.UUID
    fingerprint: npt.NDArray[np.uint64]  # (len(VIEWS), 2, 3)


class ReferenceImageError(ValueError):
    """A reference that cannot go into the index as given."""


_SHAPE = (len(VIEWS), len(CHANNELS), len(HASHES))
_OTHERS_SHAPE = (len(VIEWS), len(CHANNELS), len(HASHES) - 1)


class ReferenceImageIndex:
    """The reference pictures of every live character and style, searchable by picture."""

    def __init__(self, *, capacity: int = 256) -> None:
        self._lock = ReadWriteLock()
        self._allocate(max(1, capacity))

    def _allocate(self, capacity: int) -> None:
        # The first pass reads only pHash words: they are kept apart, so its scan is contiguous.
        self._phash = np.zeros((capacity, len(VIEWS), len(CHANNELS)), dtype=np.uint64)
        self._others = np.zeros((capacity, *_OTHERS_SHAPE), dtype=np.uint64)
        self._live = np.zeros(capacity, dtype=bool)
        self._reference_ids: list[uuid.UUID | None] = [None] * capacity
        self._asset_ids: list[uuid.UUID | None] = [None] * capacity
        self._slots: dict[uuid.UUID, int] = {}
        self._free: list[int] = list(range(capacity - 1, -1, -1))
        self._used = 0  # slots below this may be live; the scan stops here

    # -- writing -------------------------------------------------------------------------

    def add(self, reference: IndexedReference) -> None:
        """Make one reference searchable."""
        fingerprint = _checked(reference)
        with self._lock.writing():
            if reference.reference_id in self._slots:
                raise ReferenceImageError(
                    f"reference {reference.reference_id} is already indexed; remove it first"
                )
            if not self._free:
                self._grow()
            slot = self._free.pop()
            self._phash[slot] = fingerprint[:, :, PHASH]
            self._others[slot] = np.delete(fingerprint, PHASH, axis=2)
            self._reference_ids[slot] = reference.reference_id
            self._asset_ids[slot] = reference.asset_id
            self._slots[reference.reference_id] = slot
            self._live[slot] = True
            self._used = max(self._used, slot + 1)

    def remove(self, *, reference_id: uuid.UUID) -> bool:
        """Forget one reference; False if it was not indexed."""
        with self._lock.writing():
            slot = self._slots.pop(reference_id, None)
            if slot is None:
                return False
            self._live[slot] = False
            self._reference_ids[slot] = self._asset_ids[slot] = None
            self._free.append(slot)
            return True

    def rebuild(self, references: Iterable[IndexedReference]) -> int:
        """Replace everything with ``references``; searches meanwhile see the old state."""
        items = list(references)
        fresh = ReferenceImageIndex(capacity=max(256, len(items)))
        for reference in items:
            fresh.add(reference)
        with self._lock.writing():
            self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "_lock"})
        return len(items)

    def _grow(self) -> None:
        old = len(self._live)
        capacity = 2 * old
        for name in ("_phash", "_others", "_live"):
            array = getattr(self, name)
            grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            grown[:old] = array
            setattr(self, name, grown)
        self._reference_ids += [None] * old
        self._asset_ids += [None] * old
        self._free = list(range(capacity - 1, old - 1, -1))

    # -- reading -------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock.reading():
            return len(self._slots)

    def holds(self, reference_id: uuid.UUID) -> bool:
        with self._lock.reading():
            return reference_id in self._slots

    def search(
        self, fingerprints: npt.NDArray[np.uint64], *, max_distance: int = MATCH_DISTANCE
    ) -> list[ImageMatch]:
        """Every asset each input fingerprint (shape (n, 2, 3)) matches, at its closest
        reference; best first within each input."""
        queries = np.asarray(fingerprints, dtype=np.uint64)
        if queries.ndim != 3 or queries.shape[1:] != (len(CHANNELS), len(HASHES)):
            raise ValueError(f"expected input fingerprints of shape (n, 2, 3), not {queries.shape}")
        matches: list[ImageMatch] = []
        with self._lock.reading():
            for position, query in enumerate(queries):
                matches += self._search_one(position, query, max_distance=max_distance)
        return matches

    def _search_one(
        self, position: int, query: npt.NDArray[np.uint64], *, max_distance: int
    ) -> list[ImageMatch]:
        shortlist = min(SHORTLIST_DISTANCE, max_distance)
        query_phash, query_others = query[:, PHASH], np.delete(query, PHASH, axis=1)
        best: dict[uuid.UUID, tuple[int, uuid.UUID]] = {}
        for start in range(0, self._used, CHUNK_SLOTS):
            stop = min(start + CHUNK_SLOTS, self._used)
            near = np.bitwise_count(self._phash[start:stop] ^ query_phash).min(axis=2)
            slots, views = np.nonzero((near <= shortlist) & self._live[start:stop, None])
            if slots.size == 0:
                continue
            slots += start
            distances = (
                np.bitwise_count(self._phash[slots, views] ^ query_phash).astype(np.int32)
                + np.bitwise_count(self._others[slots, views] ^ query_others).sum(
                    axis=2, dtype=np.int32
                )
            ).min(axis=1)  # the closer channel
            for slot, distance in zip(slots.tolist(), distances.tolist(), strict=True):
                if distance > max_distance:
                    continue
                asset_id, reference_id = self._asset_ids[slot], self._reference_ids[slot]
                assert asset_id is not None and reference_id is not None  # live slots
                if asset_id not in best or distance < best[asset_id][0]:
                    best[asset_id] = (distance, reference_id)
        return [
            ImageMatch(
                asset_id=asset_id,
                reference_id=reference_id,
                input_index=position,
                score=round(1.0 - distance / BITS_PER_VIEW, 4),
            )
            for asset_id, (distance, reference_id) in sorted(
                best.items(), key=lambda item: item[1][0]
            )
        ]


def fingerprint_inputs(
    pictures: Sequence[bytes | npt.NDArray[np.uint8]], *, limits: MediaLimits | None = None
) -> npt.NDArray[np.uint64]:
    """The fingerprints of input pictures, shape (n, 2, 3): uploaded bytes (decoded within
    ``limits``, one pixel budget for them all) or decoded uint8 RGB or grey arrays."""
    limits = limits or MediaLimits()
    budget = PixelBudget(limits)
    fingerprints = [
        input_fingerprint(
            decode_image(picture, limits=limits, budget=budget).rgb
            if isinstance(picture, bytes)
            else picture
        )
        for picture in pictures
    ]
    if not fingerprints:
        return np.zeros((0, len(CHANNELS), len(HASHES)), dtype=np.uint64)
    return np.stack(fingerprints)


def _checked(reference: IndexedReference) -> npt.NDArray[np.uint64]:
    fingerprint = np.asarray(reference.fingerprint)
    if fingerprint.shape != _SHAPE or fingerprint.dtype != np.uint64:
        raise ReferenceImageError(
            f"a reference fingerprint is uint64 of shape {_SHAPE}, not {fingerprint.dtype} "
            f"{fingerprint.shape}"
        )
    return fingerprint
