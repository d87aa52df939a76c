"""How long after a commit a process hears of the change on the change channel
(clearhouse.changes): the window in which a use that trusts the channel (an owner's scan, not
a clearance) can miss a change committed through another process. PostgreSQL only.

    .venv/bin/python bench/changes.py [--rounds 500]

Prints one JSON line: the commit-to-heard delay's p50, p99 and max in milliseconds, measured
from the moment COMMIT returned to the writer (in this process, on a connection of its own).
"""

import argparse
import json
import sys
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import text
from sqlmodel import Session

from bench.server import fresh_postgres_url
from clearhouse.changes import CHANNEL_PREFIX, REFERENCE_CATALOGUE, start_listener
from clearhouse.db import build_engine
from clearhouse.migrations import upgrade_database

SCHEMA = "bench_changes"


def tell_as_another_process(session: Session) -> None:
    """A change to the reference catalogue's counter and its notification, as `announce` sends
    it but without marking this process's catalogues at commit (which the writing process
    does): what a listener in another process gets."""
    session.execute(text("UPDATE reference_catalogue_generation SET generation = generation + 1"))
    session.execute(
        text("SELECT pg_notify(left(:prefix || current_schema(), 63), :topic)"),
        {"prefix": CHANNEL_PREFIX, "topic": REFERENCE_CATALOGUE},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    url = fresh_postgres_url(SCHEMA)
    if url is None:
        print(json.dumps({"postgresql": None}))
        return
    upgrade_database(url)
    engine = build_engine(url)
    listener = start_listener(url)
    freshness = listener.freshness[REFERENCE_CATALOGUE]
    while not listener.connected:
        time.sleep(0.01)
    delays = []
    for _ in range(args.rounds):
        freshness.checked(freshness.before_check())
        with Session(engine) as session:
            tell_as_another_process(session)
            session.commit()
        committed = time.perf_counter()
        while not freshness.must_check():
            time.sleep(0)  # gives the listener's thread the interpreter, adds no timer of its own
        delays.append((time.perf_counter() - committed) * 1000)
    listener.close()
    engine.dispose()
    delays.sort()
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "heard_after_commit_ms": {
                    "p50": round(delays[len(delays) // 2], 3),
                    "p99": round(delays[int(len(delays) * 0.99)], 3),
                    "max": round(delays[-1], 3),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
