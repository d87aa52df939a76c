"""Each API process's catalogue of reference pictures: an in-memory index kept in step with
the database, and the one place that matches input pictures against it.

Every change to the references (added, deleted, or gone with their asset) takes the next
generation number in its own transaction; the counter row's lock hands the numbers out in
commit order, so once a process reads generation *n*, every change numbered *n* or less is
committed. Added rows carry their number and removals are logged with theirs. A process
remembers the generation its index holds and, before a match after it heard of a change
(clearhouse.changes; on SQLite, before every match), loads only the rows and removals
numbered since: nothing when nothing changed, a few rows when another process
changed a few (the face index rebuilds from scratch; a reference costs only a row read, so
this one need not). The process that made a change applies it to its own index when it
commits.

With a CLIP model configured, a reference's embedding is loaded with its row, if that model
made it (an embedding of another model is never compared), and input pictures are matched
by it as well (rights/matching/images.py).
"""

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session, select, update

from clearhouse.changes import REFERENCE_CATALOGUE, Freshness, announce
from clearhouse.db import after_commit, read_session
from clearhouse.media import MediaLimits
from rights.matching.clip_embeddings import (
    ClipEmbeddings,
    ClipMatching,
    clip_encoder,
    embed_pictures,
    embedding_from_bytes,
)
from rights.matching.image_fingerprints import FINGERPRINT_VERSION, fingerprint_from_bytes
from rights.matching.images import (
    ImageMatch,
    IndexedReference,
    ReferenceImageIndex,
    fingerprint_inputs,
)
from rights.references.models import (
    ReferenceCatalogueGeneration,
    ReferenceImage,
    ReferenceImageRemoval,
)


def current_generation(session: Session) -> int:
    return session.exec(select(ReferenceCatalogueGeneration.generation)).one()


def lock_changes(session: Session) -> None:
    """Take the counter's row lock now, for a check that must see every change committed before
    it and none while it runs (the overlap check of new pictures, before their insert)."""
    session.exec(select(ReferenceCatalogueGeneration).with_for_update()).one()


def advance_generation(session: Session) -> int:
    """Take the next generation number for this transaction's change; the row stays locked
    until it commits, so changes are numbered in commit order. Every process hears of it at
    commit."""
    session.exec(
        update(ReferenceCatalogueGeneration).values(
            generation=ReferenceCatalogueGeneration.generation + 1
        )
    )
    announce(session, REFERENCE_CATALOGUE)
    return current_generation(session)


@dataclass
class ReferenceCatalogue:
    # Whether another process's change was heard of; without a channel, every use reads the
    # counter.
    freshness: Freshness = field(default_factory=lambda: Freshness(None))
    index: ReferenceImageIndex = field(default_factory=ReferenceImageIndex)
    generation: int = -1  # the database generation the index holds (-1: none loaded yet)
    clip: ClipMatching | None = None  # matching by CLIP embeddings too, when configured
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(
        cls,
        *,
        engine: Engine,
        freshness: Freshness | None = None,
        clip: ClipMatching | None = None,
    ) -> "ReferenceCatalogue":
        catalogue = cls(freshness=freshness or Freshness(None), clip=clip)
        with read_session(engine) as session:
            catalogue.refresh(session)
        return catalogue

    def match(
        self,
        session: Session,
        pictures: Sequence[bytes | np.ndarray],
        *,
        limits: MediaLimits | None = None,
    ) -> list[ImageMatch]:
        """Every registered character or style each picture shows (uploaded bytes, decoded
        within ``limits``, or decoded RGB arrays), as of the latest committed change. With a
        CLIP model configured, this process loads it to embed them."""
        embeddings = None
        if self.clip is not None:
            encoder = clip_encoder(self.clip.model_dir)
            embeddings = embed_pictures(encoder, pictures, limits=limits)
        fingerprints = fingerprint_inputs(pictures, limits=limits)
        return self.search(session, fingerprints, embeddings=embeddings)

    def search(
        self,
        session: Session,
        fingerprints: np.ndarray,
        *,
        embeddings: ClipEmbeddings | None = None,
    ) -> list[ImageMatch]:
        """As :meth:`match`, for pictures fingerprinted already (in a media worker, which
        decodes them: image_fingerprints.input_fingerprint), shape (n, 2, 3), and embedded
        there when a CLIP model is configured."""
        self.refresh(session)
        clip = self.clip
        if clip is None or embeddings is None or embeddings.model_key != clip.model_key:
            return self.index.search(fingerprints)
        return self.index.search(
            fingerprints, embeddings=embeddings.vectors, min_cosine=clip.min_cosine
        )

    def refresh(self, session: Session, *, read_counter: bool = False) -> None:
        """Load what other processes changed since the generation this index holds.

        The counter is read only when a change was heard of or the channel cannot be trusted,
        or with ``read_counter``: under the counter's lock, for a check that must see every
        change committed before it, heard of yet or not."""
        if not read_counter and not self.freshness.must_check():
            return
        mark = self.freshness.before_check()
        current = current_generation(session)
        if current != self.generation:
            self._catch_up(session, current)
        self.freshness.checked(mark)

    def _catch_up(self, session: Session, current: int) -> None:
        with self._sync_lock:
            if current == self.generation:
                return
            if self.generation < 0 or current < self.generation:  # first load, or a restore
                self.index.rebuild(self._references(session, after=-1, through=current))
            else:
                removed = session.exec(
                    select(ReferenceImageRemoval.reference_id).where(
                        ReferenceImageRemoval.generation > self.generation,
                        ReferenceImageRemoval.generation <= current,
                    )
                ).all()
                for reference_id in removed:
                    self.index.remove(reference_id=reference_id)
                for reference in self._references(session, after=self.generation, through=current):
                    if not self.index.holds(reference.reference_id):
                        self.index.add(reference)
            self.generation = current

    def apply_on_commit(
        self,
        session: Session,
        *,
        generation: int,
        added: Sequence[IndexedReference] = (),
        removed: Sequence[uuid.UUID] = (),
    ) -> None:
        """Apply this transaction's change (numbered ``generation``) to this process's index
        once it commits. An index that was behind already, or that a refresh has brought
        past it, is left for the next refresh, which loads the change from the database."""

        def apply() -> None:
            with self._sync_lock:
                if self.generation != generation - 1:
                    return
                for reference_id in removed:
                    self.index.remove(reference_id=reference_id)
                for reference in added:
                    self.index.add(reference)
                self.generation = generation

        after_commit(session, apply)

    def _references(self, session: Session, *, after: int, through: int) -> list[IndexedReference]:
        rows = session.exec(
            select(
                ReferenceImage.id,
                ReferenceImage.asset_id,
                ReferenceImage.fingerprint,
                ReferenceImage.embedding_model,
                ReferenceImage.embedding,
            ).where(
                ReferenceImage.generation > after,
                ReferenceImage.generation <= through,
                # A fingerprint of another version cannot be compared; its owner uploads again.
                ReferenceImage.fingerprint_version == FINGERPRINT_VERSION,
            )
        ).all()
        model_key = None if self.clip is None else self.clip.model_key
        return [
            IndexedReference(
                reference_id=reference_id,
                asset_id=asset_id,
                fingerprint=fingerprint_from_bytes(fingerprint),
                # Only the configured model's embeddings are comparable with its own.
                embedding=embedding_from_bytes(embedding)
                if embedding is not None and embedded_by == model_key
                else None,
            )
            for reference_id, asset_id, fingerprint, embedded_by, embedding in rows
        ]


async def get_reference_catalogue(request: Request) -> ReferenceCatalogue:
    """Async: no I/O, so no hand-off to the thread pool."""
    return request.app.state.reference_catalogue


ReferenceCatalogueDep = Annotated[ReferenceCatalogue, Depends(get_reference_catalogue)]
