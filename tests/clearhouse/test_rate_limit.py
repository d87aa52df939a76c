"""Rate limits: failed sign-ins per email and per address, requests per API key.

Every test runs on the in-process store and on Redis. Redis is found at
``CLEARHOUSE_TEST_REDIS_URL`` (default: the local server); when it cannot be reached the
Redis half skips and says why, unless ``CLEARHOUSE_REQUIRE_REDIS=1`` (set in CI), where that
is a failure. Each run uses a key prefix of its own, and each test a prefix under it, so
parallel runs and tests never share a bucket. The limiter does not touch the database, so
these tests run on SQLite only. Time comes from a clock the tests move, never from sleeping.
"""

import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REDIS_URL
from factories import PASSWORD, sign_up
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from clearhouse.app import create_app
from clearhouse.rate_limit import (
    Bucket,
    RateLimited,
    RateLimiter,
    RedisBucketStore,
    client_address,
)
from clearhouse.settings import Settings

UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"

PER_ACCOUNT, PER_ADDRESS, PER_API_KEY = 3, 5, 4
WINDOW = 15 * 60


class Clock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limited_settings(database: Path, key_dir: Path, **redis_settings) -> Settings:
    """Settings with small limits; in-process unless ``redis_settings`` name a Redis."""
    return Settings(
        data_dir=key_dir,
        database_url=f"sqlite:///{database}",
        migrate_on_start=False,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        sign_in_limit_per_account=PER_ACCOUNT,
        sign_in_limit_per_address=PER_ADDRESS,
        sign_in_limit_minutes=WINDOW // 60,
        api_key_limit_per_minute=PER_API_KEY,
        **({"redis_url": None} | redis_settings),
    )


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "clearhouse.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
def redis_limited(redis_prefix: str, database: Path, key_dir: Path) -> Settings:
    """Small limits on Redis, under a prefix of this test's own."""
    return limited_settings(database, key_dir, redis_url=REDIS_URL, redis_key_prefix=redis_prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def limited(store: str, request: pytest.FixtureRequest, database: Path, key_dir: Path) -> Settings:
    """Small limits on the store under test."""
    if store == "redis":
        return request.getfixturevalue("redis_limited")
    return limited_settings(database, key_dir)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def running(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """An app instance, started, whose limiter reads ``clock``."""
    with TestClient(create_app(settings), client=("192.0.2.1", 40000)) as client:
        client.app.state.rate_limiter.clock = clock
        yield client


@pytest.fixture
def client(limited: Settings, clock: Clock) -> Iterator[TestClient]:
    with running(limited, clock) as test_client:
        yield test_client


def from_address(app: FastAPI, address: str) -> TestClient:
    """Another connection to the same running app, from another address."""
    return TestClient(app, client=(address, 40000))


def sign_in(client: TestClient, email: str, password: str = "not the password", **headers):
    return client.post(
        "/v1/auth/token", data={"username": email, "password": password}, headers=headers
    )


def assert_rate_limited(response, *, retry_after: int, about: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(retry_after)
    problem = response.json()
    assert problem["type"].endswith("/rate-limited")
    assert problem["status"] == 429
    assert about in problem["detail"]
    assert f"Try again in {retry_after} seconds" in problem["detail"]


def test_failed_sign_ins_are_limited_per_email(client):
    user = sign_up(client)
    spellings = [user.email, user.email.upper(), f"  {user.email}"]
    assert [sign_in(client, email).status_code for email in spellings] == [401] * PER_ACCOUNT
    # Once full, even the right password is refused: it is not checked at all.
    assert_rate_limited(
        sign_in(client, user.email, PASSWORD), retry_after=WINDOW, about="for this email"
    )


def test_an_unknown_email_is_limited_like_a_known_one(client):
    known = sign_up(client).email
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.org"
    known_replies = [sign_in(client, known) for _ in range(PER_ACCOUNT + 1)]
    other = from_address(client.app, "192.0.2.2")  # the first address's budget is spent
    unknown_replies = [sign_in(other, unknown) for _ in range(PER_ACCOUNT + 1)]
    for known_reply, unknown_reply in zip(known_replies, unknown_replies, strict=True):
        assert known_reply.status_code == unknown_reply.status_code
        assert known_reply.json()["detail"] == unknown_reply.json()["detail"]
        assert known_reply.headers.get("retry-after") == unknown_reply.headers.get("retry-after")
    assert known_replies[-1].status_code == 429


def test_the_email_and_the_address_limits_are_independent(client):
    target = sign_up(client).email
    for _ in range(PER_ACCOUNT):
        assert sign_in(client, target).status_code == 401
    # The email's limit follows it to any address ...
    elsewhere = from_address(client.app, "198.51.100.9")
    assert_rate_limited(sign_in(elsewhere, target), retry_after=WINDOW, about="for this email")
    # ... and leaves the first address free to try other emails until its own limit.
    for n in range(PER_ADDRESS - PER_ACCOUNT):
        assert sign_in(client, f"other-{n}@example.org").status_code == 401
    assert_rate_limited(
        sign_in(client, "fresh@example.org"), retry_after=WINDOW, about="from your address"
    )
    # That email, from another address, is simply a wrong password.
    assert sign_in(elsewhere, "fresh@example.org").status_code == 401


def test_retry_after_counts_down_and_the_window_moves(client, clock):
    email = sign_up(client).email
    for _ in range(PER_ACCOUNT):
        assert sign_in(client, email).status_code == 401
        clock.advance(100)
    # Attempts at 0, 100 and 200 s; now is 300 s: the first leaves the window at 900 s.
    assert_rate_limited(sign_in(client, email), retry_after=600, about="for this email")
    clock.advance(599.5)
    assert_rate_limited(sign_in(client, email), retry_after=1, about="for this email")
    clock.advance(0.5)
    assert sign_in(client, email, PASSWORD).status_code == 200
    assert sign_in(client, email).status_code == 401
    # The window now holds 100, 200 and 900 s: the one at 100 s leaves it next.
    assert_rate_limited(sign_in(client, email), retry_after=100, about="for this email")
    clock.advance(WINDOW)
    assert [sign_in(client, email).status_code for _ in range(PER_ACCOUNT)] == [401] * PER_ACCOUNT


def test_a_right_password_is_not_counted(client):
    email = sign_up(client).email
    assert sign_in(client, email).status_code == 401
    for _ in range(PER_ADDRESS + 1):
        assert sign_in(client, email, PASSWORD).status_code == 200
    for _ in range(PER_ACCOUNT - 1):
        assert sign_in(client, email).status_code == 401
    assert sign_in(client, email).status_code == 429


def test_two_app_instances_share_the_redis_limit(limited, clock, store):
    """With Redis every API process counts into the same buckets; in memory, each its own."""
    with running(limited, clock) as first, running(limited, clock) as second:
        email = sign_up(first).email
        replies = [sign_in((first, second)[n % 2], email) for n in range(PER_ACCOUNT + 1)]
        statuses = [reply.status_code for reply in replies]
    if store == "redis":
        assert statuses == [401] * PER_ACCOUNT + [429]
    else:
        assert statuses == [401] * (PER_ACCOUNT + 1)


def test_api_key_requests_are_limited_per_key(client, clock):
    user = sign_up(client)
    keys = [
        client.post(
            "/v1/api-keys", headers=user.headers, json={"name": name, "scopes": ["account:read"]}
        ).json()["secret"]
        for name in ("first", "second")
    ]
    first, second = ({"X-API-Key": secret} for secret in keys)
    for _ in range(PER_API_KEY):
        assert client.get("/v1/accounts/me", headers=first).status_code == 200
        clock.advance(10)
    # Requests at 0, 10, 20 and 30 s; now is 40 s: the first leaves the minute at 60 s.
    refused = client.get("/v1/api-keys", headers=first)
    assert_rate_limited(refused, retry_after=20, about="This API key")
    assert client.get("/v1/accounts/me", headers=second).status_code == 200
    clock.advance(20)
    assert client.get("/v1/accounts/me", headers=first).status_code == 200


@pytest.mark.redis
def test_concurrent_hits_never_pass_a_full_redis_bucket(redis_limited):
    """The check and the record are one Lua script: many API processes cannot overshoot.

    (The in-process store holds a lock for the same; under the GIL a race there does not
    show in a test, so it is not claimed to be tested.)
    """
    limiter = RateLimiter.from_settings(redis_limited)
    bucket = Bucket(
        key=f"{redis_limited.redis_key_prefix}race", limit=5, window_seconds=60, refusal="Full."
    )
    threads_count = 16
    barrier = threading.Barrier(threads_count)
    allowed = []

    def hit_many() -> None:
        barrier.wait()
        for _ in range(10):
            try:
                limiter.hit(bucket)
            except RateLimited:
                continue
            allowed.append(1)

    threads = [threading.Thread(target=hit_many) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limiter.close()
    assert len(allowed) == bucket.limit


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(limited, clock):
    with running(limited, clock) as client:
        for n in range(PER_ADDRESS):
            spoofed = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert sign_in(client, f"a{n}@example.org", **spoofed).status_code == 401
        refused = sign_in(client, "b@example.org", **{"X-Forwarded-For": "203.0.113.99"})
        assert_rate_limited(refused, retry_after=WINDOW, about="from your address")

    behind_proxy = limited.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    with running(behind_proxy, clock) as app_client:
        proxy = from_address(app_client.app, "10.0.0.2")
        for n in range(PER_ADDRESS):
            # What the client wrote itself stands left of what the proxy appended.
            forwarded = {"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.7"}
            assert sign_in(proxy, f"c{n}@example.org", **forwarded).status_code == 401
        refused = sign_in(proxy, "d@example.org", **{"X-Forwarded-For": "198.51.100.7"})
        assert_rate_limited(refused, retry_after=WINDOW, about="from your address")
        other_client = {"X-Forwarded-For": "198.51.100.8"}
        assert sign_in(proxy, "d@example.org", **other_client).status_code == 401


def _address_of(host: str) -> str:
    return client_address(Request({"type": "http", "client": (host, 1), "headers": []}))


def test_an_ipv6_client_is_counted_by_its_64_block():
    assert _address_of("2001:db8:1:2::1") == _address_of("2001:db8:1:2:ffff::9")
    assert _address_of("2001:db8:1:2::1") != _address_of("2001:db8:1:3::1")
    assert _address_of("::ffff:192.0.2.1") == _address_of("192.0.2.1") == "192.0.2.1"


def test_openapi_lists_429_where_limits_apply(client):
    paths = client.get("/openapi.json").json()["paths"]
    limited = [("/v1/auth/token", "post"), ("/v1/accounts/me", "get"), ("/v1/accounts", "post")]
    for path, method in limited:
        rate_limited = paths[path][method]["responses"]["429"]
        assert "Retry-After" in rate_limited["headers"]
    assert "429" not in paths["/healthz"]["get"]["responses"]
    assert "429" not in paths["/v1/accounts/verify-email"]["get"]["responses"]


@pytest.mark.redis
def test_an_unreachable_redis_fails_at_start(redis_limited):
    broken = redis_limited.model_copy(update={"redis_url": UNREACHABLE_REDIS_URL})
    with pytest.raises(RuntimeError, match="Redis does not answer"), TestClient(create_app(broken)):
        pass


@pytest.mark.redis
def test_redis_lost_while_running_refuses_with_503_not_500(redis_limited, clock):
    with running(redis_limited, clock) as client:
        client.app.state.rate_limiter.store = RedisBucketStore(UNREACHABLE_REDIS_URL)
        response = sign_in(client, "e@example.org")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Redis" in response.json()["detail"]
