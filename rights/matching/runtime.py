"""What a running app holds for the checks of a prompt's text: the sentence model, the catalogue,
the IP matcher, the content check and the owners' restrictions.

Built in the app's lifespan at no cost: the model loads on first use, and the catalogue on the
first `refresh`, which then keeps it current (`store.py`): call it with the request's session
before matching. Clearance does `runtime.check_text(session, prompt)`, which is both, and runs
both checks on one reading of the prompt (one run of the model; a second, on a few words, when
a short prompt names an asset: the content check reads what is left beside the names).
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from fastapi import Depends, Request
from sqlmodel import Session

from clearhouse.changes import Freshness
from clearhouse.settings import Settings
from rights.matching import store
from rights.matching.catalogue import TextCatalogue
from rights.matching.content_check import ContentCheck, ContentFinding
from rights.matching.encoder import SentenceEncoder
from rights.matching.matcher import TextMatcher
from rights.matching.reading import read_prompt
from rights.matching.restrictions import RestrictionCheck
from rights.matching.types import MatchKind, ProtectedMatch, TextMatch


@dataclass(frozen=True)
class TextCheck:
    """What a prompt's text touches (registered assets, protected entries) and shows (content
    categories)."""

    matches: list[TextMatch]
    content: list[ContentFinding]
    protected: list[ProtectedMatch]
    embedding: np.ndarray
    """The prompt's, for the restriction check once the policies it falls under are read."""


class MatchingRuntime:
    def __init__(
        self, *, encoder: SentenceEncoder | None = None, freshness: Freshness | None = None
    ) -> None:
        self.encoder = encoder or SentenceEncoder()
        self.catalogue = TextCatalogue(dimension=self.encoder.dimension)
        self.matcher = TextMatcher(catalogue=self.catalogue, encoder=self.encoder)
        self.content = ContentCheck(encoder=self.encoder)
        self.restrictions = RestrictionCheck(encoder=self.encoder, content=self.content)
        # Whether another process's change was heard of (clearhouse.changes); without a
        # channel, every use reads the counter.
        self.freshness = freshness or Freshness(None)
        self.generation = -1  # the catalogue count this process holds (-1: nothing loaded)
        self._sync_lock = threading.Lock()

    def match(self, session: Session, prompt: str) -> list[TextMatch]:
        """The registered assets and protected entries ``prompt`` touches, against the
        catalogue as it is now."""
        self.refresh(session)
        return self.matcher.match(prompt)

    def check_text(self, session: Session, prompt: str, *, read_counter: bool = False) -> TextCheck:
        """`match`, and the content categories ``prompt`` shows, from one reading of it, against
        the catalogue as it is now (``read_counter``: as `refresh`'s)."""
        reading = read_prompt(prompt, encoder=self.encoder)
        self.refresh(session, read_counter=read_counter)
        matches, protected, names = [], [], []
        entries = self.catalogue.protected
        for match in self.matcher.match_reading(reading):
            if match.kind != MatchKind.description:
                names.append((match.start, match.end))
            entry = entries.get(match.asset_id)
            if entry is None:
                matches.append(match)
            else:
                protected.append(
                    ProtectedMatch(match.asset_id, entry.protected_kind, entry.name, match)
                )
        return TextCheck(
            matches=matches,
            content=self.content.find_in_reading(reading, names=names),
            protected=protected,
            embedding=reading.embedding,
        )

    def refresh(self, session: Session, *, read_counter: bool = False) -> None:
        """Load what changed since this process last looked (everything, the first time).

        The counter is read only when a change was heard of or the channel cannot be trusted,
        or with ``read_counter``: under the counter's lock, for a check that must see every
        change committed before it, heard of yet or not."""
        if not read_counter and not self.freshness.must_check():
            return
        mark = self.freshness.before_check()
        if store.current_generation(session) != self.generation:
            self._catch_up(session)
        self.freshness.checked(mark)

    def _catch_up(self, session: Session) -> None:
        with self._sync_lock:
            current = store.current_generation(session)  # again: another thread may have loaded
            if current == self.generation:
                return
            if current < self.generation:  # the database was restored from an older backup
                self.catalogue.clear()
                self.generation = -1
            for change in store.changed_since(
                session, self.generation, model_key=self.encoder.model_key
            ):
                if not change.listed:
                    self.catalogue.remove(change.asset.id)
                else:
                    self.catalogue.put(change.asset, self._vectors(change))
            self.generation = current

    def embed_texts(self, texts: Iterable[str]) -> store.TextVectors:
        """Embeddings of ``texts`` for `store.record_change`; call it outside a transaction."""
        distinct = list(dict.fromkeys(text for text in texts if text))
        vectors = self.encoder.encode(distinct) if distinct else []
        return store.TextVectors(
            model_key=self.encoder.model_key,
            by_text=dict(zip(map(store.text_key, distinct), vectors, strict=True)),
        )

    def _vectors(self, change: store.CatalogueChange) -> np.ndarray:
        """The asset's text embeddings: stored ones where they match, the rest embedded now."""
        texts = change.asset.semantic_texts()
        vectors = np.zeros((len(texts), self.encoder.dimension), dtype=np.float32)
        missing = []
        for position, text in enumerate(texts):
            stored = change.stored.get(position)
            if stored is not None and stored[0] == store.text_key(text):
                vectors[position] = stored[1]
            else:
                missing.append(position)
        if missing:
            vectors[missing] = self.encoder.encode([texts[p] for p in missing])
        return vectors


def start_matching(settings: Settings, *, freshness: Freshness | None = None) -> MatchingRuntime:
    """The runtime an app holds; nothing loads until the first match or registration."""
    return MatchingRuntime(
        encoder=SentenceEncoder(
            cache_dir=settings.data_dir / "models", threads=settings.text_model_threads
        ),
        freshness=freshness,
    )


async def get_matching(request: Request) -> MatchingRuntime:
    """Async: no I/O, so no hand-off to the thread pool."""
    return request.app.state.matching


MatchingDep = Annotated[MatchingRuntime, Depends(get_matching)]
