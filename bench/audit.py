"""Audit checkpoints on a long log: how long a holder's checkpoint check takes when the log
holds ``--entries`` entries of another holder, against a live ``clearhouse serve`` on SQLite
and PostgreSQL; and, for comparison, the admins' walk of the whole chain.

The log is seeded straight into the database as a valid hash chain (what ``record_event``
would write), then the holder records one entry of their own through the API and checks a
checkpoint of it ``--checks`` times, one request at a time. Prints one JSON line.

    .venv/bin/python bench/audit.py [--entries 200000] [--checks 200]
"""

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a script, Python puts bench/ first on the path: put the repository root there.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
from sqlalchemy import Engine, insert, select, update

from audit.models import AuditEntry, AuditHead
from audit.service import entry_hash
from bench.registry import percentiles
from bench.server import fresh_postgres_url, holder_token, live_server, sign_in
from clearhouse.db import build_engine, utcnow


def seed_log(engine: Engine, *, asset_id: uuid.UUID, actor_id: uuid.UUID, entries: int) -> None:
    """Append ``entries`` entries about ``asset_id`` to the chain, head included."""
    with engine.begin() as connection:
        head = connection.execute(select(AuditHead).where(AuditHead.id == 1)).one()
        seq, prev_hash = head.seq, head.hash
        rows = []
        for _ in range(entries):
            seq += 1
            body = {
                "seq": seq,
                "at": utcnow().isoformat(),
                "action": "asset.updated",
                "actor_id": str(actor_id),
                "asset_id": str(asset_id),
                "details": {"fields": ["name"]},
            }
            digest = entry_hash(prev_hash, body)
            rows.append(
                {
                    "seq": seq,
                    "asset_id": asset_id,
                    "action": body["action"],
                    "body": body,
                    "prev_hash": prev_hash,
                    "hash": digest,
                }
            )
            prev_hash = digest
            if len(rows) == 10_000:
                connection.execute(insert(AuditEntry), rows)
                rows = []
        if rows:
            connection.execute(insert(AuditEntry), rows)
        connection.execute(
            update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev_hash)
        )


def _asset(client: httpx.Client, token: str, handle: str) -> str:
    response = client.post(
        "/v1/assets",
        headers={"Authorization": f"Bearer {token}"},
        json={"kind": "character", "handle": handle, "name": handle},
    )
    response.raise_for_status()
    return response.json()["id"]


def run_backend(url: str | None, *, entries: int, checks: int) -> dict:
    with (
        tempfile.TemporaryDirectory() as folder,
        live_server(
            data_dir=Path(folder),
            database_url=url,
            settings={"CLEARHOUSE_CHECKPOINT_VERIFY_LIMIT_PER_MINUTE": str(10 * checks)},
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=600) as client,
    ):
        other = holder_token(server, client, "other@bench.example")
        other_id = client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {other}"})
        other_asset = _asset(client, other, "busy")
        engine = build_engine(url or f"sqlite:///{Path(folder) / 'clearhouse.db'}")
        try:
            started = time.perf_counter()
            seed_log(
                engine,
                asset_id=uuid.UUID(other_asset),
                actor_id=uuid.UUID(other_id.json()["id"]),
                entries=entries,
            )
            seeded_s = round(time.perf_counter() - started, 2)
        finally:
            engine.dispose()
        holder = {"Authorization": f"Bearer {holder_token(server, client, 'holder@bench.example')}"}
        _asset(client, holder["Authorization"].split()[1], "mine")
        token = client.get("/v1/audit/checkpoint", headers=holder).json()["token"]
        samples = []
        for _ in range(checks):
            began = time.perf_counter_ns()
            report = client.post(
                "/v1/audit/checkpoint/verify", headers=holder, json={"token": token}
            )
            samples.append(time.perf_counter_ns() - began)
            if report.status_code != 200 or not report.json()["consistent"]:
                raise RuntimeError(f"checkpoint check failed: {report.text[:300]}")
        output = server.cli(
            "account", "create", "--email", "admin@bench.example", "--role", "admin"
        )
        password = re.search(r"password: (\S+)", output).group(1)
        admin = {"Authorization": f"Bearer {sign_in(client, 'admin@bench.example', password)}"}
        began = time.perf_counter()
        chain = client.get("/v1/audit/verify", headers=admin).json()
        walk_s = round(time.perf_counter() - began, 2)
        if not chain["ok"]:
            raise RuntimeError(f"the seeded chain does not verify: {chain}")
        return {
            "seed_s": seeded_s,
            "checkpoint_check": percentiles(samples),
            "admin_chain_walk_s": walk_s,
            "entries_walked": chain["entries_checked"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--checks", type=int, default=200)
    args = parser.parse_args()
    results: dict = {"bench": "audit", "entries": args.entries, "checks": args.checks}
    results["sqlite"] = run_backend(None, entries=args.entries, checks=args.checks)
    postgres_url = fresh_postgres_url("bench_audit")
    results["postgresql"] = (
        run_backend(postgres_url, entries=args.entries, checks=args.checks)
        if postgres_url
        else None
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
