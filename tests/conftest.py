"""Fixtures shared by the whole suite: a database per backend, the app, and small factories.

Every database test runs on SQLite and on PostgreSQL. PostgreSQL is found at
``CLEARHOUSE_TEST_POSTGRES_URL`` (default: the local server); when it cannot be reached the
PostgreSQL half skips and says why, unless ``CLEARHOUSE_REQUIRE_POSTGRES=1`` (set in CI),
where that is a failure.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from factories import User, sign_up
from fastapi.testclient import TestClient
from live_server import clearhouse_serve
from sqlalchemy import Engine, text
from sqlmodel import Session

from bench.server import seed_sentence_model
from clearhouse.app import create_app
from clearhouse.db import build_engine
from clearhouse.migrations import upgrade_database
from clearhouse.settings import Settings
from likeness import media_workers
from likeness.media_workers import WorkerConfig

# Shared fixtures: the real browser for the portal's tests (`browser`, `page`: tests/browser.py)
# and the local Stripe Connect fake (`fake`: tests/paying.py).
pytest_plugins = ["browser", "paying"]

POSTGRES_URL = os.environ.get(
    "CLEARHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CLEARHOUSE_REQUIRE_POSTGRES") == "1"
REDIS_URL = os.environ.get("CLEARHOUSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# TestClient sends `Host: testserver`; every app the suite builds (and every server it
# starts) answers for it besides the default hosts (tests/clearhouse/test_edge.py).
os.environ.setdefault("CLEARHOUSE_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# No app or server the suite starts loads the text checks in the background unless its test
# asks (tests/rights/matching/test_warm_up.py): most never clear anything, and an app with a
# fresh data dir would spend a minute building the sentence model's graph.
os.environ.setdefault("CLEARHOUSE_WARM_UP", "false")


def _postgres_reachable() -> str | None:
    engine = build_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not here"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def _with_search_path(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


def _reset_postgres(engine: Engine) -> None:
    """Empty every table between tests, as the replica role lets (no trigger fires: the audit
    log's and the ledger's refusals are bypassed only here). DELETE, not TRUNCATE: a test's
    tables hold a few rows, and truncating some eighty tables gives each new files, 0.2 s."""
    with engine.begin() as connection:
        tables = (
            connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.exec_driver_sql("; ".join(f"DELETE FROM {table}" for table in tables))
        # The rows the migrations seed.
        connection.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :hash)"), {"hash": "0" * 64}
        )
        connection.execute(text("INSERT INTO face_index_generation (id, generation) VALUES (1, 0)"))
        for counter in ("text_catalogue_generation", "reference_catalogue_generation"):
            connection.execute(text(f"INSERT INTO {counter} (id, generation) VALUES (1, 0)"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema of this test run's own, so that concurrent runs never meet."""
    problem = _postgres_reachable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required here but unreachable at {POSTGRES_URL}: {problem}")
        pytest.skip(
            f"PostgreSQL unreachable at {POSTGRES_URL} ({problem}); set "
            "CLEARHOUSE_TEST_POSTGRES_URL to run these"
        )
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = build_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = _with_search_path(POSTGRES_URL, schema)
    upgrade_database(url)
    yield url
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = build_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "clearhouse.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    _reset_postgres(request.getfixturevalue("postgres_engine"))
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session", autouse=True)
def media_workers_for_the_run() -> Iterator[None]:
    """One pool of media workers, of the default settings, for the whole run: each app the
    suite builds would otherwise start its own workers, each loading dlib, and stop them."""
    pool = media_workers.attach(WorkerConfig.from_settings(Settings()))
    yield
    media_workers.detach(pool)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of every test's app, with the sentence model's graph already there."""
    data_dir = tmp_path_factory.mktemp("data")
    seed_sentence_model(data_dir)
    return data_dir


@pytest.fixture
def settings(database_url: str, key_dir: Path, tmp_path: Path) -> Settings:
    # Cheap password hashing: the suite signs up hundreds of accounts. Each test's database
    # has its own likeness key store, as each deployment does.
    return Settings(
        data_dir=key_dir,
        database_url=database_url,
        likeness_key_store=tmp_path / "likeness-keys.db",
        migrate_on_start=False,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        redis_url=None,  # tests/clearhouse/test_rate_limit.py uses Redis with a prefix of its own
        mail_limit_per_address=10_000,  # every account here signs up from one address
        generation_worker=False,  # tests that run jobs start a worker of their own
        notice_worker=False,  # tests of notices send them with notifications.tasks
    )


@pytest.fixture
def stills_settings(settings: Settings) -> Settings:
    """An operator who verifies identity elsewhere and accepts still photos."""
    return settings.model_copy(update={"liveness_required": False})


@pytest.fixture
def client(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    """The app. In a module marked ``still_photos`` it accepts still photos instead of the
    liveness challenge; ``holder``, ``session`` and ``engine`` follow it."""
    if request.node.get_closest_marker("still_photos") is not None:
        settings = request.getfixturevalue("stills_settings")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def engine(client: TestClient) -> Engine:
    return client.app.state.engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session


@pytest.fixture
def holder(client: TestClient) -> User:
    return sign_up(client)


@pytest.fixture
def other_holder(client: TestClient) -> User:
    return sign_up(client)


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """A live `clearhouse serve` on this test's database; its URL."""
    with clearhouse_serve(settings, log=tmp_path / "serve.log") as url:
        yield url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis; its keys deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CLEARHOUSE_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required here but unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL} ({exc}); set CLEARHOUSE_TEST_REDIS_URL")
    prefix = f"test-processes:{uuid.uuid4().hex[:8]}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
