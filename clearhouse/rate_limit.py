"""Rate limits on sign-in, on API keys, on mail, on audit checkpoint verifications and on
opening disputes, over a moving window.

Each limit is a bucket: a log of the times of the hits it allowed within its window. A
request hits all its buckets at once or none of them (sign-in hits the account's and the
address's), so a refused request costs no bucket anything. Buckets live in this process
(one API process) or in Redis (``CLEARHOUSE_REDIS_URL``: every API process shares them);
Redis checks and records in one Lua script, so concurrent requests can never slip past a
full bucket.

We keep our own small store rather than the ``limits`` package: sign-in needs two buckets
hit atomically and a hit given back when the password was right, and ``limits`` offers
neither.
"""

import hashlib
import ipaddress
import logging
import math
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

import redis
from fastapi import Depends, Request

from clearhouse.errors import ClearhouseError
from clearhouse.settings import Settings

log = logging.getLogger(__name__)


class RateLimited(ClearhouseError):
    status_code = 429
    slug = "rate-limited"
    title = "Too many requests"
    sends_retry_after = True

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiterUnavailable(ClearhouseError):
    """The shared store cannot be reached: refuse rather than let every request through."""

    status_code = 503
    slug = "rate-limiter-unavailable"
    title = "Rate limiter unavailable"


@dataclass(frozen=True)
class Bucket:
    """At most ``limit`` hits on ``key`` within any ``window_seconds``."""

    key: str
    limit: int
    window_seconds: float
    refusal: str  # what the caller is told when this bucket is full


@dataclass(frozen=True)
class Hit:
    """One allowed request: its mark in each of its buckets, so it can be given back."""

    token: str
    keys: tuple[str, ...]


class BucketStore(Protocol):
    def hit(self, buckets: Sequence[Bucket], *, now: float, token: str) -> list[float]:
        """Record ``token`` at ``now`` in every bucket if none is full, else in none.

        Returns, per bucket, 0 if it had room, else the seconds until it has room again.
        """

    def give_back(self, keys: Sequence[str], *, token: str) -> None:
        """Remove the hit ``token`` from these buckets."""

    def close(self) -> None: ...


class MemoryBucketStore:
    """Buckets in this process's memory: right for a single API process."""

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, deque[tuple[float, str]]]] = {}
        self._next_sweep = 0.0

    def hit(self, buckets: Sequence[Bucket], *, now: float, token: str) -> list[float]:
        with self._lock:
            self._sweep(now)
            logs = [self._log(bucket, now) for bucket in buckets]
            waits = [
                log[len(log) - bucket.limit][0] + bucket.window_seconds - now
                if len(log) >= bucket.limit
                else 0.0
                for bucket, log in zip(buckets, logs, strict=True)
            ]
            if not any(waits):
                for log in logs:
                    log.append((now, token))
            return waits

    def give_back(self, keys: Sequence[str], *, token: str) -> None:
        with self._lock:
            for key in keys:
                if key in self._buckets:
                    log = self._buckets[key][1]
                    for entry in [entry for entry in log if entry[1] == token]:
                        log.remove(entry)

    def close(self) -> None:
        self._buckets.clear()

    def _log(self, bucket: Bucket, now: float) -> deque[tuple[float, str]]:
        _, log = self._buckets.setdefault(bucket.key, (bucket.window_seconds, deque()))
        _expire(log, now - bucket.window_seconds)
        return log

    def _sweep(self, now: float) -> None:
        """Forget buckets with no hit left in their window, so memory follows recent traffic."""
        if now < self._next_sweep:
            return
        for key, (window, log) in list(self._buckets.items()):
            _expire(log, now - window)
            if not log:
                del self._buckets[key]
        self._next_sweep = now + self.SWEEP_SECONDS


def _expire(log: deque[tuple[float, str]], horizon: float) -> None:
    while log and log[0][0] <= horizon:
        log.popleft()


# KEYS: the buckets. ARGV: now (ms), token, then each bucket's limit and window (ms).
# A bucket is a sorted set of tokens scored by the time of their hit.
_HIT_SCRIPT = """
local now = tonumber(ARGV[1])
local token = ARGV[2]
local waits = {}
local full = false
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  waits[i] = 0
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    waits[i] = tonumber(oldest[2]) + window - now
    full = true
  end
end
if not full then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, token)
    redis.call('PEXPIRE', key, tonumber(ARGV[2 + 2 * i]))
  end
end
return waits
"""


class RedisBucketStore:
    """Buckets in Redis, shared by every API process that uses the same URL and prefix."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._hit_script = self._redis.register_script(_HIT_SCRIPT)

    def check_reachable(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise RuntimeError(
                f"CLEARHOUSE_REDIS_URL is set but Redis does not answer there: {exc}. "
                "Start Redis or unset CLEARHOUSE_REDIS_URL to limit within this process."
            ) from exc

    def hit(self, buckets: Sequence[Bucket], *, now: float, token: str) -> list[float]:
        args: list[int | str] = [math.floor(now * 1000), token]
        for bucket in buckets:
            args += [bucket.limit, math.ceil(bucket.window_seconds * 1000)]
        try:
            waits = self._hit_script(keys=[bucket.key for bucket in buckets], args=args)
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return [wait / 1000 for wait in waits]

    def give_back(self, keys: Sequence[str], *, token: str) -> None:
        # The caller already succeeded; failing here would cost only one extra count.
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrem(key, token)
                pipe.execute()
        except redis.RedisError:
            log.warning("could not give a rate-limit hit back to Redis", exc_info=True)

    def close(self) -> None:
        self._redis.close()


def _unavailable(exc: Exception) -> RateLimiterUnavailable:
    return RateLimiterUnavailable(
        f"The rate limiter's store (Redis) did not answer ({type(exc).__name__}); "
        "try again in a moment."
    )


def _digest(value: str) -> str:
    """Bucket keys carry no email or secret in clear."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_address(request: Request) -> str:
    """The address sign-in is counted against: the peer of this connection.

    Behind proxies listed in ``CLEARHOUSE_TRUSTED_PROXIES`` the app has already replaced the
    peer with the client named in ``X-Forwarded-For``. An IPv6 client is counted by its /64,
    the block one subscriber usually holds.
    """
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    """The limits the API enforces, over one bucket store."""

    def __init__(
        self, store: BucketStore, *, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.clock = clock
        self._prefix = settings.redis_key_prefix
        self._sign_in_window = settings.sign_in_limit_minutes * 60.0
        self._per_account = settings.sign_in_limit_per_account
        self._per_address = settings.sign_in_limit_per_address
        self._per_api_key = settings.api_key_limit_per_minute
        self._checkpoint_verifications = settings.checkpoint_verify_limit_per_minute
        self._mail_per_recipient = settings.mail_limit_per_recipient
        self._mail_per_address = settings.mail_limit_per_address
        self._disputes_per_hour = settings.dispute_limit_per_hour
        self._invitations_per_hour = settings.invitation_limit_per_hour

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        if settings.redis_url is None:
            return cls(MemoryBucketStore(), settings=settings)
        store = RedisBucketStore(settings.redis_url)
        store.check_reachable()
        return cls(store, settings=settings)

    def limit_sign_in(self, *, email: str, address: str) -> Hit:
        """Count a sign-in attempt against the email tried and the caller's address.

        The email is counted whether or not an account has it, so a refusal says nothing
        about which accounts exist.
        """
        minutes = self._sign_in_window / 60
        return self.hit(
            Bucket(
                key=f"{self._prefix}sign-in:account:{_digest(email.strip().lower())}",
                limit=self._per_account,
                window_seconds=self._sign_in_window,
                refusal=f"Too many failed sign-ins for this email within {minutes:g} minutes.",
            ),
            Bucket(
                key=f"{self._prefix}sign-in:address:{address}",
                limit=self._per_address,
                window_seconds=self._sign_in_window,
                refusal=f"Too many failed sign-ins from your address within {minutes:g} minutes.",
            ),
        )

    def limit_api_key(self, *, secret: str) -> None:
        """Count one request made with this API key."""
        self.hit(
            Bucket(
                key=f"{self._prefix}api-key:{_digest(secret)}",
                limit=self._per_api_key,
                window_seconds=60.0,
                refusal=f"This API key made {self._per_api_key} requests within a minute.",
            )
        )

    def limit_mail(self, *, recipient: str, address: str) -> None:
        """Count one sign-up or verification link: each sends mail to ``recipient``.

        The recipient is counted whether or not an account has it, so a refusal says nothing
        about which accounts exist.
        """
        self.hit(
            Bucket(
                key=f"{self._prefix}mail:recipient:{_digest(recipient.strip().lower())}",
                limit=self._mail_per_recipient,
                window_seconds=3600.0,
                refusal="We sent this address as many mails as we will within an hour.",
            ),
            Bucket(
                key=f"{self._prefix}mail:address:{address}",
                limit=self._mail_per_address,
                window_seconds=3600.0,
                refusal="Too many sign-ups or verification links from your address within an hour.",
            ),
        )

    def limit_checkpoint_verify(self, *, account_id: uuid.UUID) -> None:
        """Count one audit checkpoint verification by this account."""
        self.hit(
            Bucket(
                key=f"{self._prefix}checkpoint-verify:{account_id}",
                limit=self._checkpoint_verifications,
                window_seconds=60.0,
                refusal=f"You verified {self._checkpoint_verifications} checkpoints within a "
                "minute.",
            )
        )

    def limit_disputes(self, *, account_id: uuid.UUID) -> None:
        """Count one dispute this account opens (or tries to): each tells the asset's holder
        and holds its earnings, so nobody floods a holder with them."""
        self.hit(
            Bucket(
                key=f"{self._prefix}dispute:{account_id}",
                limit=self._disputes_per_hour,
                window_seconds=3600.0,
                refusal="You reached the number of disputes an account may open within an hour "
                f"({self._disputes_per_hour}).",
            )
        )

    def limit_invitations(self, *, account_id: uuid.UUID) -> None:
        """Count one invitation this account sends (or tries to): each may tell its invitee,
        so nobody floods a person with them."""
        self.hit(
            Bucket(
                key=f"{self._prefix}invitation:{account_id}",
                limit=self._invitations_per_hour,
                window_seconds=3600.0,
                refusal="You reached the number of invitations an account may send within an "
                f"hour ({self._invitations_per_hour}).",
            )
        )

    def hit(self, *buckets: Bucket) -> Hit:
        """Record one request in every bucket, or raise :class:`RateLimited` if one is full."""
        token = secrets.token_hex(8)
        waits = self.store.hit(buckets, now=self.clock(), token=token)
        if any(waits):
            wait, fullest = max(zip(waits, buckets, strict=True), key=lambda pair: pair[0])
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(
                f"{fullest.refusal} Try again in {retry_after} seconds.", retry_after=retry_after
            )
        return Hit(token=token, keys=tuple(bucket.key for bucket in buckets))

    def give_back(self, hit: Hit) -> None:
        """Uncount a request, e.g. a sign-in whose password was right."""
        self.store.give_back(hit.keys, token=hit.token)

    def close(self) -> None:
        self.store.close()


async def get_rate_limiter(request: Request) -> RateLimiter:
    """Async: no I/O, so no hand-off to the thread pool (every authenticated request)."""
    return request.app.state.rate_limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
