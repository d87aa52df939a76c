"""Registry routes at scale: p50/p99 of the HTTP routes a holder calls, over 10,000 assets
with a policy and a grant each, against a live ``clearhouse serve`` on SQLite and PostgreSQL.

The server runs in its own process; this process is the client (httpx, one keep-alive
connection, one request at a time, so the figures are each route's own latency, not a
queue's). Every grant is revoked at most once. Prints one JSON line.

    .venv/bin/python bench/registry.py [--assets 10000] [--lookups 2000]

PostgreSQL is used at CLEARHOUSE_BENCH_POSTGRES_URL (default: the local test database), in a
schema of its own (``bench_registry``) that is dropped and made anew; it is skipped (null)
if unreachable.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
from sqlalchemy import Engine, insert

from bench.server import fresh_postgres_url, holder_token, live_server
from clearhouse.db import build_engine, utcnow
from policies.document import Audience, PolicyDocument, Use
from policies.models import PolicyVersion
from rights.models import Asset, AssetKind, ConsentGrant


def seed(
    engine: Engine, *, owner_id: uuid.UUID, assets: int
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """``assets`` assets of one holder, each with one policy version and one active grant."""
    now = utcnow()
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
                "keywords": [],
                "example_prompts": [],
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
    with engine.begin() as connection:
        for table, rows in (
            (Asset, asset_rows),
            (PolicyVersion, policy_rows),
            (ConsentGrant, grant_rows),
        ):
            connection.execute(insert(table), rows)
    return [row["id"] for row in asset_rows], [row["id"] for row in grant_rows]


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] / 1e6, 3),
        "p99_ms": round(cuts[98] / 1e6, 3),
        "n": len(samples_ns),
    }


def measure(
    client: httpx.Client, *, token: str, asset_ids: list, grant_ids: list, lookups: int
) -> dict[str, dict[str, float]]:
    """Each route ``lookups`` times on random ids; each grant revoked once."""
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    routes = {
        "GET /v1/assets/{id}": lambda: client.get(
            f"/v1/assets/{rng.choice(asset_ids)}", headers=headers
        ),
        "GET /v1/assets/{id}/policy": lambda: client.get(
            f"/v1/assets/{rng.choice(asset_ids)}/policy", headers=headers
        ),
        "GET /v1/grants/{id}": lambda: client.get(
            f"/v1/grants/{rng.choice(grant_ids)}", headers=headers
        ),
    }
    unrevoked = list(grant_ids)
    rng.shuffle(unrevoked)
    routes["POST /v1/grants/{id}/revoke"] = lambda: client.post(
        f"/v1/grants/{unrevoked.pop()}/revoke", headers=headers, json={"reason": "bench"}
    )
    samples: dict[str, list[int]] = {route: [] for route in routes}
    for _ in range(lookups):
        for route, call in routes.items():
            started = time.perf_counter_ns()
            response = call()
            elapsed = time.perf_counter_ns() - started
            if response.status_code != 200:
                raise RuntimeError(f"{route}: {response.status_code} {response.text[:300]}")
            samples[route].append(elapsed)
    return {route: percentiles(values) for route, values in samples.items()}


def run_backend(url: str | None, *, assets: int, lookups: int) -> dict:
    with (
        tempfile.TemporaryDirectory() as folder,
        live_server(data_dir=Path(folder), database_url=url) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        token = holder_token(server, client, "registry@bench.example")
        me = client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
        owner_id = uuid.UUID(me.json()["id"])
        engine = build_engine(url or f"sqlite:///{Path(folder) / 'clearhouse.db'}")
        try:
            started = time.perf_counter()
            asset_ids, grant_ids = seed(engine, owner_id=owner_id, assets=assets)
            seeded_s = round(time.perf_counter() - started, 2)
        finally:
            engine.dispose()
        warm_up = min(100, assets // 4)
        measure(
            client, token=token, asset_ids=asset_ids, grant_ids=grant_ids[:warm_up], lookups=warm_up
        )
        return {
            "seed_s": seeded_s,
            **measure(
                client,
                token=token,
                asset_ids=asset_ids,
                grant_ids=grant_ids[warm_up:],
                lookups=lookups,
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    if args.lookups > args.assets - min(100, args.assets // 4):
        sys.exit("--lookups revokes one grant each: give more --assets than --lookups + 100")
    results: dict = {"bench": "registry", "assets": args.assets, "lookups": args.lookups}
    results["sqlite"] = run_backend(None, assets=args.assets, lookups=args.lookups)
    postgres_url = fresh_postgres_url("bench_registry")
    results["postgresql"] = (
        run_backend(postgres_url, assets=args.assets, lookups=args.lookups)
        if postgres_url
        else None
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
