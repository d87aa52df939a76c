"""How every API process hears that a catalogue it holds in memory changed (the face index,
the text catalogue, the reference pictures), without reading a counter on every request.

Each catalogue keeps a counter row in the database (``face_index_generation``,
``text_catalogue_generation``, ``reference_catalogue_generation``), advanced in the changing
transaction: the counter is the truth. On PostgreSQL the changing transaction also sends
``NOTIFY "clearhouse_changes_<schema>", '<topic>'`` (`announce`; one channel per schema, so
installations sharing a database do not hear each other), which PostgreSQL delivers at commit
and never on rollback. Each process keeps one connection that LISTENs (`ChangeListener`, a daemon
thread); a notification marks the topic's catalogue stale, and the catalogue reads its
counter and catches up at its next use. The process that committed marks its own catalogues
stale at once, so its next request sees its change. While the listener is connected and
nothing was heard, a catalogue trusts what it holds and reads nothing.

A notification that never arrives must not cost a silent miss, so the counter decides whenever
the channel cannot be trusted: before the listener first connects, while it is disconnected
(every use reads the counter, as on SQLite), and once after each reconnection (every topic is
marked stale, since changes committed while nobody listened were announced to nobody).

On SQLite (one machine, the counter a local read) there is no channel: every use reads the
counter, which also picks up changes made by the CLI in another process.
"""

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from functools import partial

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from clearhouse.db import after_commit

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "clearhouse_changes_"  # and the schema the tables are in
_CHANNEL_LENGTH = 63  # PostgreSQL's longest identifier: a longer channel name is an error
FACE_INDEX = "face_index"
TEXT_CATALOGUE = "text_catalogue"
REFERENCE_CATALOGUE = "reference_catalogue"
TOPICS = (FACE_INDEX, TEXT_CATALOGUE, REFERENCE_CATALOGUE)
_WAKE_SECONDS = 0.1  # how long the thread waits for news before it looks at `close` (no query)
_PROBE_SECONDS = 5.0  # how often a quiet connection is checked to be alive
_RECONNECT_SECONDS = 0.5
_listeners: "weakref.WeakSet[ChangeListener]" = weakref.WeakSet()  # this process's, open


def announce(session: Session, topic: str) -> None:
    """Tell every process, once this transaction commits, that ``topic`` changed. Call it in
    the transaction that advances the topic's counter."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(
            text("SELECT pg_notify(left(:prefix || current_schema(), :length), :topic)"),
            {"prefix": CHANNEL_PREFIX, "length": _CHANNEL_LENGTH, "topic": topic},
        )
        # This process's own next request must see its change: no wait for the notification.
        after_commit(session, partial(_heard_here, topic))


def _heard_here(topic: str) -> None:
    for listener in list(_listeners):
        listener.freshness[topic].heard()


class Freshness:
    """Whether one catalogue may trust what it holds or must read its counter first.

    A catalogue takes ``mark = freshness.before_check()``, reads its counter and catches up,
    then calls ``freshness.checked(mark)``; a notification heard meanwhile moves the mark
    on, so the next use checks again."""

    def __init__(self, listener: "ChangeListener | None") -> None:
        self._listener = listener
        self._heard = 0  # notifications (and reconnections) counted for this topic
        self._checked = -1  # the count when the counter was last read

    def must_check(self) -> bool:
        listener = self._listener
        return listener is None or not listener.connected or self._checked != self._heard

    def before_check(self) -> int:
        return self._heard

    def checked(self, mark: int) -> None:
        self._checked = mark

    def heard(self) -> None:
        self._heard += 1  # one writer: the listener's thread


class ChangeListener:
    """One LISTEN connection per process (per app), on a daemon thread, that marks catalogues
    stale."""

    def __init__(self, database_url: str, *, topics: Iterable[str] = TOPICS) -> None:
        self._conninfo = _psycopg_conninfo(database_url)
        self.freshness = {topic: Freshness(self) for topic in topics}
        self.connected = False
        self.connections = 0  # how many times it has connected
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="change-listener", daemon=True)
        self._thread.start()
        _listeners.add(self)

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        while not self._closing.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name=listener_name(),
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                ) as connection:
                    schema = connection.execute("SELECT current_schema()").fetchone()[0]
                    if schema is None:  # the search path names no schema that exists (yet)
                        raise LookupError("no current schema to listen for")
                    channel = sql.Identifier((CHANNEL_PREFIX + schema)[:_CHANNEL_LENGTH])
                    connection.execute(sql.SQL("LISTEN {}").format(channel))
                    # Listening from here; what committed before is in the counters, so every
                    # catalogue reads its own once (marked stale before it is trusted again).
                    self._heard_all()
                    self.connected = True
                    self.connections += 1
                    self._receive(connection)
            except (psycopg.Error, LookupError) as exc:
                if not self._closing.is_set():
                    log.warning("change listener lost its connection: %s", exc)
            finally:
                self.connected = False
            self._closing.wait(_RECONNECT_SECONDS)

    def _receive(self, connection) -> None:
        probed = time.monotonic()
        while not self._closing.is_set():
            for notify in connection.notifies(timeout=_WAKE_SECONDS):
                freshness = self.freshness.get(notify.payload)
                if freshness is not None:
                    freshness.heard()
            if time.monotonic() - probed > _PROBE_SECONDS:
                connection.execute("SELECT 1")  # raises if the connection died quietly
                probed = time.monotonic()

    def _heard_all(self) -> None:
        for freshness in self.freshness.values():
            freshness.heard()

    def close(self) -> None:
        _listeners.discard(self)
        self._closing.set()
        self._thread.join(timeout=_WAKE_SECONDS + 5)


def listener_name() -> str:
    """The listener's ``application_name``: an operator sees in ``pg_stat_activity`` which API
    process each listening connection belongs to."""
    return f"clearhouse-changes-{os.getpid()}"


def start_listener(database_url: str) -> ChangeListener | None:
    """The process's listener on PostgreSQL; None on SQLite, where catalogues read counters."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return None
    return ChangeListener(database_url)


def freshness_for(listener: ChangeListener | None, topic: str) -> Freshness:
    return Freshness(None) if listener is None else listener.freshness[topic]


def _psycopg_conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as libpq understands it (``postgresql+psycopg://`` → ``postgresql://``)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
