"""Registry lookups at scale: p50/p99 of a grant-status lookup and of loading an asset's
policy in force, over 10,000 assets with a policy and a grant each, on SQLite and PostgreSQL.

Each lookup opens its own session, as a request does. Prints one JSON line.

    .venv/bin/python bench/registry.py [--assets 10000] [--lookups 5000]

PostgreSQL is used at CLEARHOUSE_BENCH_POSTGRES_URL (default: the local test database), in a
schema of its own (``bench``) that is dropped and made anew; it is skipped if unreachable.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine, insert, text
from sqlmodel import Session

from clearhouse.accounts.models import Account
from clearhouse.db import build_engine, utcnow
from clearhouse.migrations import upgrade_database
from policies.models import PolicyVersion
from policies.schema import Audience, PolicyDocument, Use
from policies.service import current_policy
from rights.models import Asset, AssetKind, ConsentGrant
from rights.repository import grant_status

POSTGRES_URL = os.environ.get(
    "CLEARHOUSE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def seed(engine: Engine, *, assets: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """``assets`` assets of one holder, each with one policy version and one active grant."""
    now = utcnow()
    owner_id = uuid.uuid4()
    document = PolicyDocument(audience=Audience.anyone, allowed_uses=[Use.personal])
    asset_rows, policy_rows, grant_rows = [], [], []
    for n in range(assets):
        asset_id, policy_id = uuid.uuid4(), uuid.uuid4()
        asset_rows.append(
            {
                "id": asset_id,
                "owner_id": owner_id,
                "kind": AssetKind.character,
                "handle": f"asset{n:06d}",
                "name": f"Asset {n}",
                "aliases": [],
                "description": "",
                "created_at": now,
                "updated_at": now,
            }
        )
        policy_rows.append(
            {
                "id": policy_id,
                "asset_id": asset_id,
                "version": 1,
                "document": document.model_dump(mode="json"),
                "revenue_share_bps": 8000,
                "created_by": owner_id,
                "created_at": now,
            }
        )
        grant_rows.append(
            {
                "id": uuid.uuid4(),
                "asset_id": asset_id,
                "policy_version_id": policy_id,
                "status": "active",
                "granted_at": now,
            }
        )
    with Session(engine) as session:
        session.add(
            Account(
                id=owner_id,
                email="bench@example.org",
                password_hash="-",
                display_name="Bench",
                date_of_birth=date(1980, 1, 1),
                revenue_share_bps=8000,
            )
        )
        session.flush()
        for table, rows in (
            (Asset, asset_rows),
            (PolicyVersion, policy_rows),
            (ConsentGrant, grant_rows),
        ):
            session.execute(insert(table), rows)
        session.commit()
    return [row["id"] for row in asset_rows], [row["id"] for row in grant_rows]


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] / 1e6, 3),
        "p99_ms": round(cuts[98] / 1e6, 3),
        "n": len(samples_ns),
    }


def measure(engine: Engine, *, asset_ids: list, grant_ids: list, lookups: int) -> dict:
    rng = random.Random(7)
    status_ns, policy_ns = [], []
    for _ in range(lookups):
        grant_id, asset_id = rng.choice(grant_ids), rng.choice(asset_ids)
        started = time.perf_counter_ns()
        with Session(engine) as session:
            assert grant_status(session, grant_id) is not None
        status_ns.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        with Session(engine) as session:
            PolicyDocument.from_stored(current_policy(session, asset_id).document)
        policy_ns.append(time.perf_counter_ns() - started)
    return {"grant_status": percentiles(status_ns), "policy_in_force": percentiles(policy_ns)}


def run_backend(url: str, *, assets: int, lookups: int) -> dict:
    upgrade_database(url)
    engine = build_engine(url)
    try:
        started = time.perf_counter()
        asset_ids, grant_ids = seed(engine, assets=assets)
        seeded_s = round(time.perf_counter() - started, 2)
        measure(engine, asset_ids=asset_ids, grant_ids=grant_ids, lookups=200)  # warm up
        return {
            "seed_s": seeded_s,
            **measure(engine, asset_ids=asset_ids, grant_ids=grant_ids, lookups=lookups),
        }
    finally:
        engine.dispose()


def postgres_bench_url() -> str | None:
    """A fresh ``bench`` schema in the PostgreSQL database, or None if it is unreachable."""
    try:
        engine = build_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS bench CASCADE"))
            connection.execute(text("CREATE SCHEMA bench"))
        engine.dispose()
    except Exception:  # unreachable: report it in the output instead
        return None
    return POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + "options=-csearch_path%3Dbench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    args = parser.parse_args()
    results: dict = {"bench": "registry", "assets": args.assets, "lookups": args.lookups}
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        results["sqlite"] = run_backend(sqlite_url, assets=args.assets, lookups=args.lookups)
    postgres_url = postgres_bench_url()
    results["postgresql"] = (
        run_backend(postgres_url, assets=args.assets, lookups=args.lookups)
        if postgres_url
        else None
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
