"""Loading the text checks when the process starts, not on its first clearance.

What a clearance's text check needs loads on first use: the sentence model (about a second
from its cached graph, a minute when the graph is built for the first time), the content
check (its vocabulary and the embeddings of its descriptions) and the catalogue (4 s for
10,000 assets). The first clearance of a fresh process, and every request queued behind it,
would wait for all of it. The app starts a `WarmUp` as it starts (``CLEARHOUSE_WARM_UP``)
and serves at once; ``GET /readyz`` says when the warm-up has finished. A request that
arrives before then waits only for what it needs: each part loads once, under its own lock,
whichever thread asks first.
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from clearhouse.db import read_session
from policies.service import restrictions_in_force
from rights.matching.runtime import MatchingRuntime

log = logging.getLogger(__name__)


class WarmUp:
    """One warm-up in a thread of its own; ``then`` runs once everything is loaded."""

    def __init__(
        self, *, matching: MatchingRuntime, engine: Engine, then: Callable[[], None]
    ) -> None:
        self._matching = matching
        self._engine = engine
        self._then = then
        self._finished = threading.Event()
        self.failure: str | None = None
        """What stopped the warm-up, if something did (each part then loads on first use)."""
        self._thread = threading.Thread(target=self._run, name="clearhouse-warm-up", daemon=True)

    @classmethod
    def start(
        cls, *, matching: MatchingRuntime, engine: Engine, then: Callable[[], None]
    ) -> "WarmUp":
        warm_up = cls(matching=matching, engine=engine, then=then)
        warm_up._thread.start()
        return warm_up

    @property
    def ready(self) -> bool:
        return self._finished.is_set() and self.failure is None

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the warm-up finished (ready or failed) within ``timeout`` seconds."""
        return self._finished.wait(timeout)

    def _run(self) -> None:
        try:
            self._matching.encoder.load()
            self._matching.content.load()
            with read_session(self._engine) as session:
                self._matching.refresh(session)
                restrictions = restrictions_in_force(session)
            self._matching.restrictions.prepare(restrictions)
            self._then()
        except Exception as exc:  # the requests load what failed here, or answer its error
            log.exception("warming up the text checks failed")
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._finished.set()
