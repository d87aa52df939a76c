"""The ledger's posting rate: usages (a released generation's charge split between the
creator's wallet, the holders' payables and the platform) posted through
``payouts.usage.post_usages``, one per transaction and in batches, on SQLite and PostgreSQL,
in this one process. Prints one JSON line: entries a second, and p50/p99 of a transaction
(its commit included, and on PostgreSQL the deferred balance check that runs at commit).

Each database is new (a temporary SQLite file; a fresh PostgreSQL schema), migrated, and
seeded with ``--creators`` creators, ``--holders`` holders and a released generation per
usage; every ledger account exists before timing starts (made on first use otherwise). A
usage licenses one to three assets of random holders at random fees; the ledger is checked
after (every cached balance against its legs) and the bench fails if it does not hold.

    .venv/bin/python bench/ledger.py [--usages 20000] [--batch 100] [--databases sqlite,postgresql]
"""

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path: put the repository root there.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine
from sqlmodel import Session

from bench.ledger_rows import insert_accounts, insert_generations
from bench.registry import percentiles
from bench.server import fresh_postgres_url
from clearhouse.accounts.models import Role
from clearhouse.db import build_engine, snapshot_session, utcnow, writer
from clearhouse.migrations import upgrade_database
from payouts.accounts import payable, platform, wallet
from payouts.balances import check_ledger
from payouts.models import AccountKind
from payouts.split import LicensedUse, Usage
from payouts.storage import ledger_store
from payouts.usage import post_usages, usage_entry

CURRENCY = "USD"


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


def post_timed(engine: Engine, batches: list[list[Usage]]) -> dict:
    """Post each batch in a transaction of its own; the rate and each transaction's time."""
    write = writer(engine)
    samples = []
    started = time.perf_counter()
    for batch in batches:
        began = time.perf_counter_ns()
        with Session(write) as session:
            post_usages(session, batch, now=utcnow())
            session.commit()
        samples.append(time.perf_counter_ns() - began)
    elapsed = time.perf_counter() - started
    entries = sum(len(batch) for batch in batches)
    return {
        "entries": entries,
        "entries_per_second": round(entries / elapsed),
        "transaction": percentiles(samples),
    }


def run_backend(url: str, *, count: int, batch: int, creators: int, holders: int) -> dict:
    upgrade_database(url)
    engine = build_engine(url)
    try:
        made, holder_ids = seed(engine, creators=creators, holders=holders, generations=2 * count)
        work = usages(random.Random(7), made, holder_ids)
        single, batched = work[:count], work[count:]
        legs = sum(len(usage_entry(usage).legs) for usage in work) / len(work)
        report = {
            "legs_per_entry": round(legs, 2),
            "one_per_transaction": post_timed(engine, [[usage] for usage in single]),
            f"{batch}_per_transaction": post_timed(
                engine, [batched[n : n + batch] for n in range(0, count, batch)]
            ),
        }
        with snapshot_session(engine) as session:
            check = check_ledger(session)
        if not check.ok or check.entries_checked != 2 * count:
            raise RuntimeError(f"the ledger does not hold after the bench: {check}")
        return report
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usages", type=int, default=20_000, help="per mode and database")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--creators", type=int, default=1_000)
    parser.add_argument("--holders", type=int, default=1_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = {
        "count": args.usages,
        "batch": args.batch,
        "creators": args.creators,
        "holders": args.holders,
    }
    results: dict = {"bench": "ledger", "usages": args.usages, "batch": args.batch}
    databases = args.databases.split(",")
    if "sqlite" in databases:
        with tempfile.TemporaryDirectory() as folder:
            results["sqlite"] = run_backend(f"sqlite:///{Path(folder) / 'ledger.db'}", **sizes)
    if "postgresql" in databases:
        url = fresh_postgres_url("bench_ledger")
        results["postgresql"] = run_backend(url, **sizes) if url else None
    print(json.dumps(results))


if __name__ == "__main__":
    main()
