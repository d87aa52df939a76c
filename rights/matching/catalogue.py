"""The registered assets as the IP text check holds them in memory: names and texts, per asset.

One `TextCatalogue` per process. It changes one asset at a time (`put`, `remove`) under the
write side of a read-write lock, so a match in progress sees an asset entirely before or
entirely after a change; matches share the read side and run side by side. Which changes to
apply, and when, is the business of `store.py` (the database) and `runtime.py`.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from likeness.index.locking import ReadWriteLock
from rights.matching.content_words import content_words
from rights.matching.name_index import NameIndex
from rights.matching.semantic_index import SemanticIndex
from rights.matching.types import CatalogueAsset, MatchKind


class TextCatalogue:
    def __init__(self, *, dimension: int) -> None:
        self.names = NameIndex()
        self.semantic = SemanticIndex(dimension=dimension)
        self.protected: dict[uuid.UUID, CatalogueAsset] = {}  # protected entries, by id
        self._lock = ReadWriteLock()

    def put(self, asset: CatalogueAsset, vectors: npt.NDArray[np.float32]) -> None:
        """Add or replace ``asset``; ``vectors`` embed its `semantic_texts`, in order."""
        names = [
            (MatchKind.name, asset.name),
            *((MatchKind.alias, alias) for alias in asset.aliases),
            (MatchKind.handle, asset.handle),
        ]
        own_names = content_words(" ".join([asset.name, *asset.aliases, asset.handle]))
        words = content_words(" ".join(asset.semantic_texts())) - own_names
        with self._lock.writing():
            self.names.put(asset.id, names)
            self.semantic.put(asset.id, vectors, words)
            if asset.protected_kind is not None:
                self.protected[asset.id] = asset

    def remove(self, asset_id: uuid.UUID) -> None:
        with self._lock.writing():
            self.names.remove(asset_id)
            self.semantic.remove(asset_id)
            self.protected.pop(asset_id, None)

    def clear(self) -> None:
        with self._lock.writing():
            self.names = NameIndex()
            self.semantic = SemanticIndex(dimension=self.semantic.dimension)
            self.protected = {}

    @contextmanager
    def reading(self) -> Iterator["TextCatalogue"]:
        """Hold the catalogue still while a match reads it."""
        with self._lock.reading():
            yield self
