"""Name-free search: which assets' own texts a prompt reads like, and which words it shares.

Each asset brings the embeddings of its texts (description, example prompts, keyword list;
`types.CatalogueAsset.semantic_texts`) and its content words. A search is two passes:

1. the prompt against one centroid per asset (the normalised mean of its texts) keeps the
   ``candidates`` closest assets (`centroid_scan.py`: float16 copies read, the float32
   centroids decide): every text of every asset would be several times as much to read;
2. for those, the similarity is the best over the asset's own texts (a prompt written like one
   example prompt matches that example, not the average), and the overlap is the sum, over the
   content words the prompt shares with the asset, of each word's inverse document frequency
   across the catalogue, scaled to 0-1 (a word only one asset uses weighs about 1; "red",
   which thousands use, much less).

Assets are added, replaced and removed one at a time; slots of removed assets are reused.
Not thread-safe on its own: `catalogue.TextCatalogue` guards it with a read-write lock.
"""

import math
import uuid
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rights.matching.centroid_scan import CentroidScan

DEFAULT_CANDIDATES = 64
_INITIAL_SLOTS = 64


@dataclass(frozen=True)
class SemanticScore:
    asset_id: uuid.UUID
    similarity: float  # the best cosine between the prompt and one of the asset's texts
    overlap: float  # inverse-document-frequency weight of the content words both use


class SemanticIndex:
    def __init__(self, *, dimension: int, candidates: int = DEFAULT_CANDIDATES) -> None:
        self.dimension = dimension
        self.candidates = candidates
        self._centroids = np.zeros((_INITIAL_SLOTS, dimension), dtype=np.float32)
        self._scan = CentroidScan(dimension=dimension, capacity=_INITIAL_SLOTS)
        self._texts: list[npt.NDArray[np.float32] | None] = [None] * _INITIAL_SLOTS
        self._words: list[frozenset[str]] = [frozenset()] * _INITIAL_SLOTS
        self._ids: list[uuid.UUID | None] = [None] * _INITIAL_SLOTS
        self._slot_of: dict[uuid.UUID, int] = {}
        self._free: list[int] = list(range(_INITIAL_SLOTS - 1, -1, -1))  # lowest first
        self._used = 0  # one past the highest slot ever filled
        self._document_frequency: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._slot_of)

    def put(
        self, asset_id: uuid.UUID, vectors: npt.NDArray[np.float32], words: frozenset[str]
    ) -> None:
        """Make the asset searchable with these text embeddings (unit rows) and words."""
        self.remove(asset_id)
        if len(vectors) == 0:  # no texts: found by name only
            return
        if not self._free:
            self._grow()
        slot = self._free.pop()
        self._used = max(self._used, slot + 1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        centroid = vectors.sum(axis=0)
        norm = float(np.linalg.norm(centroid))
        self._centroids[slot] = centroid / norm if norm > 0 else 0.0
        self._scan.put(slot, self._centroids[slot])
        self._texts[slot] = vectors
        self._words[slot] = words
        self._ids[slot] = asset_id
        self._slot_of[asset_id] = slot
        self._document_frequency.update(words)

    def remove(self, asset_id: uuid.UUID) -> None:
        slot = self._slot_of.pop(asset_id, None)
        if slot is None:
            return
        self._document_frequency.subtract(self._words[slot])
        for word in self._words[slot]:
            if self._document_frequency[word] <= 0:
                del self._document_frequency[word]
        self._centroids[slot] = 0.0
        self._scan.remove(slot)
        self._texts[slot] = None
        self._words[slot] = frozenset()
        self._ids[slot] = None
        self._free.append(slot)

    def search(self, query: npt.NDArray[np.float32], words: frozenset[str]) -> list[SemanticScore]:
        """The ``candidates`` assets closest to the prompt's embedding, with their scores."""
        if not self._slot_of:
            return []
        used = self._used  # slots past it were never filled: not read at all
        count = min(self.candidates, len(self._slot_of))
        slots = self._scan.closest(query, count, centroids=self._centroids[:used]).tolist()
        texts = [self._texts[slot] for slot in slots]
        # One product over the candidates' texts, then the best of each asset's own rows.
        offsets = np.cumsum([0] + [len(rows) for rows in texts[:-1]])
        best = np.maximum.reduceat(np.concatenate(texts) @ query, offsets)
        weights = self._word_weights(words)
        ids, assets_words = self._ids, self._words
        return [
            SemanticScore(
                ids[slot],
                similarity,
                # Most candidates share no word with the prompt: no sum to set up for them.
                sum([weights[word] for word in shared])
                if (shared := words & assets_words[slot])
                else 0.0,
            )
            for slot, similarity in zip(slots, best.tolist(), strict=True)
        ]

    def _word_weights(self, words: frozenset[str]) -> dict[str, float]:
        """Inverse document frequency over the catalogue, scaled so a word of one asset is ~1."""
        assets = len(self._slot_of)
        scale = math.log(assets + 1) or 1.0
        return {
            word: max(0.0, math.log((assets + 1) / (self._document_frequency[word] + 0.5))) / scale
            for word in words
        }

    def _grow(self) -> None:
        old = len(self._ids)
        self._centroids = np.vstack([self._centroids, np.zeros_like(self._centroids)])
        self._scan.grow(2 * old)
        self._texts.extend([None] * old)
        self._words.extend([frozenset()] * old)
        self._ids.extend([None] * old)
        self._free.extend(range(2 * old - 1, old - 1, -1))
