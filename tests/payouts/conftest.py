"""The ledger's fixtures: an engine on each test database, without the app."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from clearhouse.db import build_engine


@pytest.fixture
def ledger_engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()
