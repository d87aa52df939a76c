"""The outbox as a test reads it: the mail each address was sent, and the links in it.

A TestClient's app knows its engine; a live server's database is registered by the helpers in
live_server.py, so factories can verify accounts made through either.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, text

from clearhouse.db import build_engine

_server_databases: dict[str, str] = {}
_LINK = re.compile(r"https?://\S+/v1/accounts/verify-email\?token=[\w-]+")


def register_server(base_url: str, database_url: str) -> None:
    _server_databases[base_url.rstrip("/")] = database_url


@contextmanager
def _engine_of(client: httpx.Client) -> Iterator[Engine]:
    app = getattr(client, "app", None)
    if app is not None and hasattr(app, "state"):
        yield app.state.engine
        return
    engine = build_engine(_server_databases[str(client.base_url).rstrip("/")])
    try:
        yield engine
    finally:
        engine.dispose()


def mail_to(client: httpx.Client, email: str) -> list[dict]:
    """Every message queued for ``email``, oldest first: subject and body."""
    with _engine_of(client) as engine, engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT subject, body FROM outbox_email WHERE recipient = :email "
                "ORDER BY created_at"
            ),
            {"email": email.lower()},
        )
        return [dict(row._mapping) for row in rows]


def verification_link(body: str) -> str | None:
    """The path and query of the verification link in a message, if it has one."""
    found = _LINK.search(body)
    if found is None:
        return None
    url = urlsplit(found.group())
    return f"{url.path}?{url.query}"
