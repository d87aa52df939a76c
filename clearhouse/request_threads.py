"""The request threads: few, so that requests are served in turn, and never all stuck waiting.

Route handlers, the dependencies before them and FastAPI's check of a handler's answer run on
anyio's default thread limiter, kept to ``settings.request_threads`` tokens (plus one for each
upload admitted to media work): few threads served in turn keep the slowest answers fast. A
handler that waits for a lock (SQLite's write turn, a PostgreSQL row lock) keeps its token while
it waits. When every token is held by such waiters, the lock's holder cannot get the thread it
needs to check its answer, and nothing moves until the waits time out (SQLite's, 30 s) or ever
(PostgreSQL's row locks have no timeout): 12 requests at once that each locked the same account
row hung a server for good (tests/clearhouse/test_request_threads.py).

So a watch lends the pool threads whenever it is stalled: every token held by the same tasks
for two ticks, others waiting, and the pool's threads barely on the processor meanwhile (their
holders wait, they do not work); it takes the loan back once threads stand idle. Busy threads
are never added to: a pool full of handlers hashing passwords is working, not stalled.

The loan has no bound of its own but the tasks waiting (and ``MOST_LENT``, for safety). A
lent thread goes to the first task in line (anyio's limiter is first come, first served), and
the lock's holder may be last: the tasks ahead of it each take a thread and wait too, for the
lock or for one of the pool's connections, which those waiting for the lock hold. So the loan
doubles with each stalled look, up to the tasks waiting, until the holder's turn comes. Capped
at the connection pool's size (40), it ran out: 60 changes at once to one asset stalled a
server for 30 s on both databases, its 50 threads (10 of its own) waiting for the lock or a
connection while the holder's next step stood in line.
"""

import asyncio
import contextlib
import threading

from anyio import to_thread
from prometheus_client import Counter

TICK_S = 0.02
# Under this share of one tick on the processor, the pool's threads were waiting.
IDLE_SHARE = 0.25
# A safety bound only: a thousand requests at once waiting for one lock is an attack, and a
# thread each (a stack each) would cost more memory than the wait for the lock's timeout costs.
MOST_LENT = 1000
_WORKER_NAME = "AnyIO worker thread"  # anyio's name for the threads of its pool

THREADS_LENT = Counter(
    "clearhouse_request_threads_lent_total",
    "Threads lent to a process's request threads because all of them waited (for a lock) "
    "while other requests queued; each is taken back once threads stand idle.",
)


class StallWatch:
    """Lend the request threads as many threads again as they were lent (one at first) for
    each look that finds them stalled, never more than the tasks waiting; take one back for each
    tick that finds one idle."""

    def __init__(self, *, threads: int) -> None:
        self.threads = threads
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Size the pool and start watching it, on the running event loop."""
        to_thread.current_default_thread_limiter().total_tokens = self.threads
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        limiter = to_thread.current_default_thread_limiter()
        holders: tuple = ()
        looked_stuck = False  # at the tick before, and the pool's time on the processor then
        cpu_ns: int | None = None
        while True:
            await asyncio.sleep(TICK_S)
            statistics = limiter.statistics()
            lent = limiter.total_tokens - self.threads
            stuck = (
                statistics.tasks_waiting > 0
                and statistics.borrowed_tokens >= limiter.total_tokens
                and statistics.borrowers == holders
            )
            holders = statistics.borrowers
            if not stuck:
                looked_stuck = False
                if lent > 0 and statistics.borrowed_tokens < limiter.total_tokens:
                    limiter.total_tokens -= 1
                continue
            now_ns = _pool_cpu_ns()
            # Unknown (no schedstat here, or a thread ended meanwhile): taken as waiting, since
            # a stall never ends by itself.
            waited = looked_stuck and (
                now_ns is None or cpu_ns is None or now_ns - cpu_ns < TICK_S * IDLE_SHARE * 1e9
            )
            looked_stuck, cpu_ns = True, now_ns
            if waited and lent < MOST_LENT:
                more = min(max(lent, 1), statistics.tasks_waiting, MOST_LENT - lent)
                limiter.total_tokens += more
                THREADS_LENT.inc(more)


def _pool_cpu_ns() -> int | None:
    """Nanoseconds the pool's threads have run on the processor (Linux), None if unknown."""
    total = 0
    for thread in threading.enumerate():
        if thread.name != _WORKER_NAME:
            continue
        try:
            with open(f"/proc/self/task/{thread.native_id}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):  # ended meanwhile, or no such statistics
            return None
    return total
