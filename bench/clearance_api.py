"""Clearances under load: ``POST /v1/clearances`` end to end against a live ``clearhouse serve``.

Everything a clearance does, in one API process (uvicorn, one worker, no access log) on
SQLite (the embedded default) or PostgreSQL: the API key looked up, the prompt matched
against the whole catalogue (names, and the sentence model's embedding against every asset's
texts), the facts read in the write transaction (the grants under a shared lock on
PostgreSQL), the evaluator, the quote, the clearance and every asset it touched recorded,
and the ES256 token signed when cleared.

The catalogue is registered straight into the server's database (``register_catalogue``,
with the stored embeddings, so the server loads it without running the model), then every
asset gets a policy as its owner might set it (:data:`POLICY_MIX`): most open to anyone
for personal and commercial use at a price, some only commercial, some waiting for the
owner's approval, some limited to so many uses a day, some with their grant revoked, some
never granted. Requests are text only:
the quality set's prompts (which touch one of its assets, or none) and the fillers' own
example prompts, each with a seed of its own in the parameters, so no two bodies of a run
share a digest; four creators, each with an API key of scope ``clearance``, take turns.

Two loads, each after an unmeasured warm-up (catalogue loaded, model opened, pools filled) of
3 s, or as long as the run if it is shorter:

- ``open``: ``wrk -tN -cN`` with no pause: the most clearances per second the process gives,
  and the latency each request saw from when it was sent (a closed loop: it includes the
  wait behind the other connections).
- ``paced``: ``rate`` clearances a second in all, from the N connections sending on a fixed
  schedule each. wrk 4 has no fixed-rate mode (wrk2 is not packaged here); its
  own latency histogram is corrected for coordinated omission only roughly (samples added
  for answers slower than twice the mean interval), so the script keeps the schedule itself
  (``delay()``) and counts each request's latency from when it was due, not from when it was
  sent: a stall delays the requests queued behind it and counts for each of them, as wrk2
  does. ``service`` is the same requests' latency from when they were sent.

Each load also reports the CPU time per clearance of the server process and, on
PostgreSQL, of its backends, and the outcomes recorded: on a machine shared with other work,
clearances per second and tails move with the load, the CPU a clearance costs much less.
"""

import json
import random
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, insert, select

from bench.registry import percentiles
from bench.server import (
    api_key,
    fresh_postgres_url,
    holder_tokens,
    live_server,
    postgres_backend_pids,
    process_tree_cpu_s,
)
from clearhouse.db import build_engine, utcnow
from licensing.models import Clearance, ClearedAsset
from policies.document import Audience, PolicyDocument, Price, Use
from policies.models import PolicyVersion
from rights.models import Asset, ConsentGrant, GrantStatus

BENCH_SCHEMA = "bench_clearance"
REQUESTERS = 4
WARM_UP_S = 3
API_KEY_LIMIT_PER_MINUTE = 10_000_000  # the clearance is measured, not the key's rate limit
TARGETS = {"clearances_per_s": 200.0, "p99_ms": 20.0}
COMMERCIAL_SHARE = 0.2  # of requests; the rest declare personal use
PARAMETERS = {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20}

OPEN = PolicyDocument(
    audience=Audience.anyone,
    allowed_uses=[Use.personal, Use.commercial, Use.parody],
    price=Price(per_use_minor=150, per_second_minor=5),
)
POLICY_MIX: tuple[tuple[float, str, PolicyDocument | None, GrantStatus | None], ...] = (
    # (share of assets, what the owner chose, policy, its grant)
    (0.50, "open to anyone, priced", OPEN, GrantStatus.active),
    (
        0.10,
        "the same, at most 1,000 uses a day",
        OPEN.model_copy(update={"daily_use_limit": 1000}),
        GrantStatus.active,
    ),
    (
        0.10,
        "each use approved by the owner",
        OPEN.model_copy(update={"approval_required": True}),
        GrantStatus.active,
    ),
    (
        0.10,
        "commercial use only",
        OPEN.model_copy(update={"allowed_uses": [Use.commercial]}),
        GrantStatus.active,
    ),
    (0.10, "grant revoked", OPEN, GrantStatus.revoked),
    (0.10, "registered, never granted", None, None),
)

# wrk's script: bodies from a file, one "api key<TAB>JSON" per line, taken in turn; with a
# period, each thread (one connection) sends on its own schedule and each latency counts from
# when its request was due. Every sample goes to a file for this process to read.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local PERIOD = tonumber(os.getenv("BENCH_PERIOD_MS"))
local THREADS = tonumber(os.getenv("BENCH_THREADS"))

local threads = {}
function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

local requests, position, due, sent = {}, 1, nil, nil
due_ms, sent_ms, statuses = {}, {}, {}

function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    local key, body = line:match("^([^\t]+)\t(.+)$")
    requests[#requests + 1] = wrk.format(
      "POST", nil, {["X-API-Key"] = key, ["Content-Type"] = "application/json"}, body)
  end
  position = number + 1
end

if PERIOD > 0 then
  function delay()
    if due == nil then due = now_ms() + PERIOD * number / THREADS end
    local wait = due - now_ms()
    if wait <= 0 then return 0 end
    return math.ceil(wait)
  end
end

function request()
  local next = requests[position]
  position = position + THREADS
  if position > #requests then position = position - #requests end
  sent = now_ms()
  if PERIOD == 0 then due = sent end
  return next
end

function response(status)
  local now = now_ms()
  due_ms[#due_ms + 1] = now - due
  sent_ms[#sent_ms + 1] = now - sent
  statuses[status] = (statuses[status] or 0) + 1
  if PERIOD > 0 then due = due + PERIOD end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_SAMPLES"), "w")
  for _, thread in ipairs(threads) do
    local from_due, from_sent = thread:get("due_ms"), thread:get("sent_ms")
    for i = 1, #from_due do out:write(string.format("%.3f %.3f\n", from_due[i], from_sent[i])) end
    for status, count in pairs(thread:get("statuses")) do
      out:write(string.format("status %d %d\n", status, count))
    end
  end
  out:close()
end
"""


def seed_policies(engine: Engine, *, seed: int = 8) -> dict[str, int]:
    """A policy and a grant (or neither) for every registered asset, as :data:`POLICY_MIX`
    shares them out; how many assets got each."""
    rng = random.Random(seed)
    now = utcnow()
    with engine.begin() as connection:
        assets = connection.execute(select(Asset.id, Asset.owner_id).order_by(Asset.id)).all()
        policies, grants, chosen = [], [], Counter()
        weights = [share for share, *_ in POLICY_MIX]
        for asset_id, owner_id in assets:
            _share, choice, document, grant_status = rng.choices(POLICY_MIX, weights)[0]
            chosen[choice] += 1
            if document is None:
                continue
            policy_id = uuid.uuid4()
            policies.append(
                {
                    "id": policy_id,
                    "asset_id": asset_id,
                    "version": 1,
                    "document": document.model_dump(mode="json"),
                    "revenue_share_bps": 7000,
                    "created_by": owner_id,
                    "created_at": now,
                }
            )
            revoked = grant_status == GrantStatus.revoked
            grants.append(
                {
                    "id": uuid.uuid4(),
                    "asset_id": asset_id,
                    "policy_version_id": policy_id,
                    "status": grant_status,
                    "granted_at": now,
                    "revoked_at": now if revoked else None,
                    "revocation_reason": "bench" if revoked else None,
                }
            )
        for table, rows in ((PolicyVersion, policies), (ConsentGrant, grants)):
            for start in range(0, len(rows), 2000):
                connection.execute(insert(table), rows[start : start + 2000])
    return dict(chosen)


def write_bodies(path: Path, *, prompts: Sequence[str], keys: Sequence[str], run: int) -> None:
    """One request per prompt, each with a seed of this run's own, the requesters in turn."""
    rng = random.Random(run)
    with path.open("w") as bodies:
        for number, prompt in enumerate(prompts):
            body = {
                "prompt": prompt,
                "declared_use": "commercial" if rng.random() < COMMERCIAL_SHARE else "personal",
                "parameters": {**PARAMETERS, "seed": run * 1_000_000 + number},
            }
            bodies.write(f"{keys[number % len(keys)]}\t{json.dumps(body)}\n")


def recorded(engine: Engine) -> dict[str, int]:
    """Clearances recorded so far, by outcome, and the assets they touched."""
    with engine.connect() as connection:
        by_outcome = dict(
            connection.execute(
                select(Clearance.outcome, func.count()).group_by(Clearance.outcome)
            ).all()
        )
        touching = connection.execute(
            select(func.count(func.distinct(ClearedAsset.clearance_id)))
        ).scalar_one()
        touched = connection.execute(select(func.count()).select_from(ClearedAsset)).scalar_one()
    counts = {str(getattr(k, "value", k)): n for k, n in by_outcome.items()}
    return {**counts, "touching_an_asset": touching, "assets_touched": touched}


def run_wrk(
    url: str, *, bodies: Path, duration_s: int, connections: int, rate: float | None
) -> dict[str, Any]:
    """One wrk run; its totals and the latency of every answer (``rate``: paced)."""
    threads = connections  # one connection a thread: the script keeps its times per thread
    period_ms = 1000.0 * connections / rate if rate else 0.0
    with tempfile.TemporaryDirectory() as folder:
        script, samples = Path(folder) / "clearances.lua", Path(folder) / "samples.txt"
        script.write_text(LUA)
        environment = {
            "BENCH_BODIES": str(bodies),
            "BENCH_SAMPLES": str(samples),
            "BENCH_PERIOD_MS": repr(period_ms),
            "BENCH_THREADS": str(threads),
        }
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s"]
        command += ["--timeout", "30s", "-s", str(script), url]
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, env=environment
        ).stdout
        lines = samples.read_text().splitlines()
    due, sent, statuses = [], [], Counter()
    for line in lines:
        fields = line.split()
        if fields[0] == "status":
            statuses[fields[1]] += int(fields[2])
        else:
            due.append(round(float(fields[0]) * 1e6))
            sent.append(round(float(fields[1]) * 1e6))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result: dict[str, Any] = {
        "clearances_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "answers": dict(sorted(statuses.items())),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }
    if rate:
        result["latency_from_due"] = percentiles(due)
        result["latency_from_sent"] = percentiles(sent)
    else:
        result["latency"] = percentiles(sent)
    return result


def measure_load(
    server_pid: int,
    url: str,
    *,
    engine: Engine,
    backends: Callable[[], list[int]],
    bodies: Path,
    duration_s: int,
    connections: int,
    rate: float | None,
) -> dict[str, Any]:
    """An unmeasured warm-up, then the measured run with its CPU and the outcomes recorded."""
    load = {"bodies": bodies, "connections": connections, "rate": rate}
    run_wrk(url, duration_s=min(WARM_UP_S, duration_s), **load)
    time.sleep(0.5)  # what the warm-up left in flight is recorded before counting
    before, cpu_before = recorded(engine), process_tree_cpu_s(server_pid, also=backends())
    result = run_wrk(url, duration_s=duration_s, **load)
    cpu_s = process_tree_cpu_s(server_pid, also=backends()) - cpu_before
    time.sleep(0.5)
    after = recorded(engine)
    added = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    answered = sum(result["answers"].values())
    return {
        "connections": connections,
        **({"rate_per_s": rate} if rate else {}),
        **result,
        "cpu_ms_per_clearance": round(cpu_s * 1000 / max(answered, 1), 2),
        # Every answered clearance is recorded; requests wrk left in flight at the end are too.
        "recorded": added,
    }


def run_database(
    name: str,
    *,
    database_url: str | None,
    register_catalogue: Callable[[Engine], None],
    prompts: Sequence[str],
    duration_s: int,
    connections: int,
    rate: float,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        with (
            live_server(
                data_dir=data_dir,
                database_url=database_url,
                access_log=False,
                settings={"CLEARHOUSE_API_KEY_LIMIT_PER_MINUTE": str(API_KEY_LIMIT_PER_MINUTE)},
            ) as server,
            httpx.Client(base_url=server.base_url, timeout=300) as client,
        ):
            engine = build_engine(database_url or f"sqlite:///{data_dir / 'clearhouse.db'}")
            try:
                started = time.perf_counter()
                register_catalogue(engine)
                policies = seed_policies(engine)
                seed_s = round(time.perf_counter() - started, 1)
                emails = [f"creator{n}@{name}.bench.example" for n in range(REQUESTERS)]
                keys = [
                    api_key(client, token, "generator", scopes=("clearance",))
                    for token in holder_tokens(server, client, emails, role="creator")
                ]
                url = f"{server.base_url}/v1/clearances"
                bodies = data_dir / "bodies.txt"
                write_bodies(bodies, prompts=prompts, keys=keys, run=0)
                # The catalogue was written after the server started (and warmed up): the first
                # clearance loads it, from its stored embeddings.
                first = client.post(
                    "/v1/clearances",
                    headers={"X-API-Key": keys[0]},
                    json=json.loads(bodies.read_text().split("\n", 1)[0].split("\t", 1)[1]),
                )
                first.raise_for_status()
                backends = (lambda: postgres_backend_pids(BENCH_SCHEMA)) if database_url else list
                load = {"engine": engine, "backends": backends, "duration_s": duration_s}
                result: dict[str, Any] = {"seed_s": seed_s, "policies": policies}
                result["open"] = measure_load(
                    server.pid, url, bodies=bodies, connections=connections, rate=None, **load
                )
                write_bodies(bodies, prompts=prompts, keys=keys, run=1)
                result["paced"] = measure_load(
                    server.pid, url, bodies=bodies, connections=connections, rate=rate, **load
                )
            finally:
                engine.dispose()
    result["targets_met"] = {
        "clearances_per_s": result["open"]["clearances_per_s"] >= TARGETS["clearances_per_s"],
        f"p99_ms_at_{rate:g}_per_s": result["paced"]["latency_from_due"]["p99_ms"]
        <= TARGETS["p99_ms"],
    }
    return result


def clearances_under_load(
    *,
    register_catalogue: Callable[[Engine], None],
    prompts: Sequence[str],
    databases: Sequence[str],
    duration_s: int,
    connections: int,
    rate: float,
) -> dict[str, Any]:
    """The clearance API under load on each of ``databases`` (sqlite, postgresql); a database
    that cannot be reached is null, and so is everything without wrk."""
    report: dict[str, Any] = {
        "server": "clearhouse serve --workers 1 --no-access-log",
        "requesters": REQUESTERS,
        "distinct_prompts": len(prompts),
        "duration_s": duration_s,
        "targets": TARGETS,
    }
    if shutil.which("wrk") is None:
        return {**report, "skipped": "wrk is missing: apt-get install -y wrk"}
    for name in databases:
        database_url = None if name == "sqlite" else fresh_postgres_url(BENCH_SCHEMA)
        report[name] = (
            None
            if name != "sqlite" and database_url is None
            else run_database(
                name,
                database_url=database_url,
                register_catalogue=register_catalogue,
                prompts=prompts,
                duration_s=duration_s,
                connections=connections,
                rate=rate,
            )
        )
    return report
