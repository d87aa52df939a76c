"""The ledger's posting rate: usages (a released generation's charge split between the
creator's wallet, the holders' payables and the platform) posted through
``payouts.usage.post_usages``, one per transaction and in batches, on SQLite and PostgreSQL,
in this one process, from ``--workers`` threads at once (``--batch-workers`` for batches),
each with a connection of its own and each transaction committed on its own, durably. Prints
one JSON line: entries a second, p50/p99 of a transaction (its commit included, and on
PostgreSQL the deferred balance check that runs at commit), and the CPU an entry took in this
process and, on PostgreSQL, in the server's backends serving it.

Each database is new (a temporary SQLite file; a fresh PostgreSQL schema), migrated, and
seeded with ``--creators`` creators, ``--holders`` holders and a released generation per
usage; every ledger account exists before timing starts (made on first use otherwise). A
usage licenses one to three assets of random holders at random fees; the ledger is checked
after (every cached balance against its legs) and the bench fails if it does not hold.

On PostgreSQL the same usages are posted again, in a schema of their own, by a plain psycopg
posting (bench/ledger_baseline.py: one connection, an INSERT per entry, ``executemany`` for
its legs and balance UPDATEs), one per transaction and in batches:
``baseline_entries_per_second``, the yardstick that makes figures from machines of different
speed compare (``ours_over_baseline``).

Then, on PostgreSQL, a holder's statement of ``--statement-uses`` uses in one month (each a
released generation licensing one of five of their assets, one in ten a second one too):
seconds to read it and write it as JSON (``statement_100k_s`` for the default 100,000), as
CSV and as PDF, each in this one process, its totals checked against the cached balance.

    .venv/bin/python bench/ledger.py [--usages 20000] [--batch 100] [--workers 8]
        [--batch-workers 2] [--databases sqlite,postgresql] [--statement-uses 100000]
"""

import argparse
import json
import queue
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script, Python puts bench/ first on the path: put the repository root there.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine
from sqlmodel import Session

from bench.ledger_baseline import post_baseline
from bench.ledger_rows import (
    insert_accounts,
    insert_generations,
    insert_licensed_assets,
    insert_licensed_generations,
)
from bench.machine import machine
from bench.registry import percentiles
from bench.server import fresh_postgres_url, postgres_backend_pids, processes_cpu_s
from clearhouse.accounts.models import Role
from clearhouse.db import build_engine, snapshot_session, utcnow, writer
from clearhouse.migrations import upgrade_database
from payouts.accounts import payable, platform, wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import AccountKind
from payouts.split import LicensedUse, Usage
from payouts.statement_files import statement_csv, statement_pdf
from payouts.statement_schemas import statements_json
from payouts.statements import Period, holder_statements, statement_of
from payouts.storage import ledger_store
from payouts.usage import post_usages, usage_entry

CURRENCY = "USD"
LEDGER_SCHEMA = "bench_ledger"  # also the application name its connections give
BASELINE_SCHEMA = "bench_ledger_baseline"


def usages(rng: random.Random, generations: list, holder_ids: list) -> list[Usage]:
    made = []
    for generation_id, creator_id in generations:
        licences = tuple(
            LicensedUse(
                holder_id=rng.choice(holder_ids),
                price_minor=rng.randint(0, 2_000),
                revenue_share_bps=rng.choice((7000, 8000, 8500)),
            )
            for _ in range(rng.randint(1, 3))
        )
        compute = rng.randint(1, 500)
        made.append(
            Usage(
                generation_id=generation_id,
                creator_id=creator_id,
                total_minor=compute + sum(licence.price_minor for licence in licences),
                currency=CURRENCY,
                licences=licences,
            )
        )
    return made


def seed(engine: Engine, *, creators: int, holders: int, generations: int) -> tuple[list, list]:
    """The accounts, their ledger accounts, and ``generations`` released generations."""
    with engine.begin() as connection:
        creator_ids = insert_accounts(connection, creators, role=Role.creator)
        holder_ids = insert_accounts(connection, holders, role=Role.holder)
        made = insert_generations(connection, creator_ids=creator_ids, count=generations)
    refs = [wallet(creator_id, CURRENCY) for creator_id in creator_ids]
    refs += [payable(holder_id, CURRENCY) for holder_id in holder_ids]
    refs.append(platform(AccountKind.platform_revenue, CURRENCY))
    with Session(writer(engine)) as session:
        ledger_store(session.connection()).lock(refs, now=utcnow())
        session.commit()
    return made, holder_ids


def post_timed(engine: Engine, batches: list[list[Usage]], *, workers: int) -> dict:
    """Post each batch in a transaction of its own, from ``workers`` threads at once (released
    together), each taking the next batch as it finishes one; the rate, each transaction's
    time, and the CPU an entry took here and in the database's backends."""
    write = writer(engine)
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for batch in batches:
        pending.put(batch)
    samples: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(workers + 1)

    def post() -> None:
        start.wait()
        try:
            while True:
                try:
                    batch = pending.get_nowait()
                except queue.Empty:
                    return
                began = time.perf_counter_ns()
                with Session(write) as session:
                    post_usages(session, batch, now=utcnow())
                    session.commit()
                samples.append(time.perf_counter_ns() - began)
        except BaseException as exc:  # reported after the others finish
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(workers)]
    for thread in threads:
        thread.start()
    backends = _open_connections(engine, workers)
    cpu = _cpu_s(backends)
    started = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    spent = [after - before for before, after in zip(cpu, _cpu_s(backends), strict=True)]
    if errors:
        raise errors[0]
    entries = sum(len(batch) for batch in batches)
    return {
        "workers": workers,
        "entries": entries,
        "entries_per_second": round(entries / elapsed),
        "transaction": percentiles(samples),
        "cpu_us_per_entry": {
            "client": round(spent[0] * 1e6 / entries),
            "server": round(spent[1] * 1e6 / entries) if backends else None,
        },
    }


def _open_connections(engine: Engine, count: int) -> list[int]:
    """Open ``count`` pooled connections (the workers' own, before timing starts); on
    PostgreSQL the process ids of the backends serving the bench's connections."""
    connections = [engine.connect() for _ in range(count)]
    for connection in connections:
        connection.close()
    if engine.dialect.name != "postgresql":
        return []
    return postgres_backend_pids(LEDGER_SCHEMA)


def _cpu_s(backends: list[int]) -> tuple[float, float]:
    """CPU seconds so far: this process's, and the backends'."""
    return time.process_time(), processes_cpu_s(backends)


def run_backend(
    url: str,
    *,
    count: int,
    batch: int,
    workers: int,
    batch_workers: int,
    creators: int,
    holders: int,
) -> dict:
    def post(engine: Engine, single: list[list[Usage]], batches: list[list[Usage]]) -> dict:
        entries = [usage for posted in (single, batches) for group in posted for usage in group]
        legs = sum(len(usage_entry(usage).legs) for usage in entries) / len(entries)
        return {
            "legs_per_entry": round(legs, 2),
            "one_per_transaction": post_timed(engine, single, workers=workers),
            f"{batch}_per_transaction": post_timed(engine, batches, workers=batch_workers),
        }

    return _posted_and_checked(
        url, count=count, batch=batch, creators=creators, holders=holders, post=post
    )


def run_baseline(url: str, *, count: int, batch: int, creators: int, holders: int, **_) -> dict:
    """The same usages (the same seed) posted by the plain psycopg baseline; its rates."""

    def post(_engine: Engine, single: list[list[Usage]], batches: list[list[Usage]]) -> dict:
        return {
            "one_per_transaction": post_baseline(url, single),
            f"{batch}_per_transaction": post_baseline(url, batches),
        }

    return _posted_and_checked(
        url, count=count, batch=batch, creators=creators, holders=holders, post=post
    )


def _posted_and_checked(
    url: str, *, count: int, batch: int, creators: int, holders: int, post: Callable
) -> dict:
    """A new ledger at ``url`` seeded for ``2 * count`` usages, handed to ``post`` as the first
    ``count`` one a transaction and the rest in batches; its report, once the ledger holds."""
    upgrade_database(url)
    engine = build_engine(url)
    try:
        made, holder_ids = seed(engine, creators=creators, holders=holders, generations=2 * count)
        work = usages(random.Random(7), made, holder_ids)
        batched = work[count:]
        report = post(
            engine,
            [[usage] for usage in work[:count]],
            [batched[n : n + batch] for n in range(0, count, batch)],
        )
        with snapshot_session(engine) as session:
            check = check_ledger(session)
        if not check.ok or check.entries_checked != 2 * count:
            raise RuntimeError(f"the ledger does not hold after the bench: {check}")
        return report
    finally:
        engine.dispose()


def compare_with_baseline(ours: dict, baseline: dict) -> dict:
    """Entries a second of the baseline per mode, and ours over it."""
    rates = {mode: figures["entries_per_second"] for mode, figures in baseline.items()}
    return {
        "baseline_entries_per_second": rates,
        "ours_over_baseline": {
            mode: round(ours[mode]["entries_per_second"] / rate, 2) for mode, rate in rates.items()
        },
        "baseline": baseline,
    }


def time_statement(url: str, *, uses: int) -> dict:
    """Seconds to give one holder's statement of ``uses`` uses in a month: as JSON (read from
    the ledger in one snapshot, then serialised, as ``GET /v1/statements`` does), as CSV and
    as PDF (each read again)."""
    upgrade_database(url)
    engine = build_engine(url)
    try:
        with engine.begin() as connection:
            creator_ids = insert_accounts(connection, 100, role=Role.creator)
            (holder_id,) = insert_accounts(connection, 1, role=Role.holder)
            assets = insert_licensed_assets(
                connection, holder_id=holder_id, count=5, price_minor=160, share_bps=8000
            )
            rng = random.Random(11)
            licences = [rng.sample(assets, 2 if n % 10 == 0 else 1) for n in range(uses * 10 // 11)]
            made = insert_licensed_generations(
                connection, creator_ids=creator_ids, licences=licences
            )
        for start in range(0, len(made), 1_000):
            with Session(writer(engine)) as session:
                post_usages(session, made[start : start + 1_000], now=utcnow())
                session.commit()
        # As autovacuum would after a load this size. Without statistics the planner reads
        # the month's entries and looks each one's leg up by (account, entry): 4.8 s instead
        # of 3.0 s here; with an index on the account alone, that plan read every leg of the
        # account for each entry and ran for minutes.
        with engine.begin() as connection:  # committed: statistics roll back with a transaction
            connection.exec_driver_sql("ANALYZE")
        period = Period.containing(utcnow())
        times = {}
        started = time.perf_counter()
        with snapshot_session(engine) as session:
            (statement,) = holder_statements(session, holder_id=holder_id, period=period)
        statements_json(period, [statement])
        times["json_s"] = round(time.perf_counter() - started, 2)
        with Session(engine) as session:
            if statement.closing_minor != balance_of(session, payable(holder_id, CURRENCY)):
                raise RuntimeError("the statement does not close at the payable's balance")
        for name, write in (
            ("csv_s", statement_csv),
            ("pdf_s", lambda s: statement_pdf(s, holder_name="A holder", holder_email="-")),
        ):
            started = time.perf_counter()
            with snapshot_session(engine) as session:
                again = statement_of(session, holder_id=holder_id, period=period, currency=CURRENCY)
            write(again)
            times[name] = round(time.perf_counter() - started, 2)
        return {"uses": statement.totals.uses, **times}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usages", type=int, default=20_000, help="per mode and database")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8, help="threads posting one a transaction")
    parser.add_argument("--batch-workers", type=int, default=2, help="threads posting batches")
    parser.add_argument("--creators", type=int, default=1_000)
    parser.add_argument("--holders", type=int, default=1_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--statement-uses", type=int, default=100_000, help="0: no statement")
    args = parser.parse_args()
    sizes = {
        "count": args.usages,
        "batch": args.batch,
        "workers": args.workers,
        "batch_workers": args.batch_workers,
        "creators": args.creators,
        "holders": args.holders,
    }
    results: dict = {
        "bench": "ledger",
        "machine": machine(),
        "usages": args.usages,
        "batch": args.batch,
    }
    databases = args.databases.split(",")
    if "sqlite" in databases:
        with tempfile.TemporaryDirectory() as folder:
            results["sqlite"] = run_backend(f"sqlite:///{Path(folder) / 'ledger.db'}", **sizes)
    if "postgresql" in databases:
        url = fresh_postgres_url(LEDGER_SCHEMA)
        results["postgresql"] = run_backend(url, **sizes) if url else None
        baseline_url = url and fresh_postgres_url(BASELINE_SCHEMA)
        if baseline_url:
            baseline = run_baseline(baseline_url, **sizes)
            results["postgresql"].update(compare_with_baseline(results["postgresql"], baseline))
    if args.statement_uses:
        url = fresh_postgres_url("bench_statement")
        statement = time_statement(url, uses=args.statement_uses) if url else None
        results[f"statement_{args.statement_uses // 1000}k_s"] = statement and statement["json_s"]
        results["statement"] = statement
    print(json.dumps(results))


if __name__ == "__main__":
    main()
