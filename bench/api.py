"""The API under load: wrk against a live ``clearhouse serve``; prints one JSON line.

    apt-get install -y wrk
    .venv/bin/python bench/api.py                       # SQLite and PostgreSQL, 1 worker
    .venv/bin/python bench/api.py --workers 2 --databases sqlite --duration 4

For each database the server is started as an operator would (SQLite in a temporary data
directory; PostgreSQL in a schema made anew, skipped when unreachable), a holder signs up,
registers a character with a policy and a grant and makes an API key, and a moderator is
made with ``clearhouse account create``. Then ``wrk -t1 -c16 -d8s --latency`` measures the
holder's ``GET /v1/assets/{id}`` with a bearer token and with the API key (whose rate limit
is raised out of the way), ``GET /healthz``, and the bearer GET while two other processes
send ``POST /v1/likeness/scan`` of a face photo in a loop as the moderator. Each measured run
follows an unmeasured one of two seconds (pools filled, statements prepared). Any answer
that is not a 200 is counted: a fast refusal is not a fast read.

Each run also reports the CPU time per request of the server's processes and, on
PostgreSQL, of the backends serving them (during scans, the scans' CPU is counted too). On a
machine shared with other work requests per second and tails move with the load; the CPU a
request costs moves much less.
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx

from bench.server import (
    FACES_DIR,
    api_key,
    fresh_postgres_url,
    granted_asset,
    holder_token,
    live_server,
    moderator_token,
    postgres_backend_pids,
    process_tree_cpu_s,
)

SCAN_PHOTO = FACES_DIR / "obama.jpg"
SCANNERS = 2
BENCH_SCHEMA = "bench_api"
API_KEY_LIMIT_PER_MINUTE = 10_000_000
REDIS_URL = os.environ.get("CLEARHOUSE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WARM_UP_S = 2
TARGETS = {"get_rps": 1000.0, "get_p99_ms": 50.0, "get_during_scans_p99_ms": 100.0}
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return round(float(number) * _UNIT_MS[unit], 3)


def wrk(
    url: str,
    *,
    headers: dict[str, str],
    duration_s: int,
    connections: int,
    server_pid: int,
    backends: Callable[[], list[int]],
) -> dict[str, float | int]:
    """Requests per second, p50 and p99 latency, answers that were not 2xx, and the CPU time
    per request of the server and of its database backends (``backends``: their pids), after
    an unmeasured warm-up."""
    # wrk leaves requests slower than its timeout (2 s by default) out of the latencies.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["--latency", url]
    warm_up = [part if part != f"-d{duration_s}s" else f"-d{WARM_UP_S}s" for part in command]
    subprocess.run(warm_up, capture_output=True, check=True)
    cpu_before = process_tree_cpu_s(server_pid, also=backends())
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_s = process_tree_cpu_s(server_pid, also=backends()) - cpu_before
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"wrk printed no latency distribution:\n{output}")
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _milliseconds(latency["50"]),
        "p99_ms": _milliseconds(latency["99"]),
        "requests": requests,
        "cpu_ms_per_request": round(cpu_s * 1000 / max(requests, 1), 3),
        "not_2xx": int((re.search(r"Non-2xx or 3xx responses: (\d+)", output) or [0, 0])[1]),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def _scan_forever(base_url: str, token: str, stop: Any, statuses: Any) -> None:
    photo = SCAN_PHOTO.read_bytes()
    with httpx.Client(base_url=base_url, timeout=120) as client:
        while not stop.is_set():
            response = client.post(
                "/v1/likeness/scan",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (SCAN_PHOTO.name, photo, "image/jpeg")},
            )
            statuses.put(response.status_code)


def wrk_during_scans(
    url: str, *, headers: dict[str, str], base_url: str, scan_token: str, **load: Any
) -> dict[str, Any]:
    """:func:`wrk` while ``SCANNERS`` processes scan a photo back to back."""
    stop, statuses = multiprocessing.Event(), multiprocessing.Queue()
    scanners = [
        multiprocessing.Process(target=_scan_forever, args=(base_url, scan_token, stop, statuses))
        for _ in range(SCANNERS)
    ]
    for scanner in scanners:
        scanner.start()
    time.sleep(1.0)  # both scans under way before the first measured request
    try:
        result = wrk(url, headers=headers, **load)
    finally:
        stop.set()
        for scanner in scanners:
            scanner.join(timeout=120)
    answered = Counter()
    while not statuses.empty():
        answered[statuses.get()] += 1
    return {**result, "scans": {str(status): n for status, n in sorted(answered.items())}}


def run_database(
    name: str, *, database_url: str | None, workers: int, access_log: bool, args: Any
) -> dict[str, Any]:
    load: dict[str, Any] = {"duration_s": args.duration, "connections": args.connections}
    load["backends"] = (lambda: postgres_backend_pids(BENCH_SCHEMA)) if database_url else list
    with (
        tempfile.TemporaryDirectory() as folder,
        live_server(
            data_dir=Path(folder),
            database_url=database_url,
            workers=workers,
            access_log=access_log,
            # The API-key GET is measured, not its rate limit; several workers share their
            # limits in Redis (`serve --workers N` refuses to start without it).
            settings={
                "CLEARHOUSE_API_KEY_LIMIT_PER_MINUTE": str(API_KEY_LIMIT_PER_MINUTE),
                **(
                    {
                        "CLEARHOUSE_REDIS_URL": REDIS_URL,
                        "CLEARHOUSE_REDIS_KEY_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:",
                    }
                    if workers > 1
                    else {}
                ),
            },
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=120) as client,
    ):
        load["server_pid"] = server.pid
        token = holder_token(server, client, f"holder@{name}.bench.example")
        asset_id, _grant_id = granted_asset(client, token, "bench_character")
        asset_url = f"{server.base_url}/v1/assets/{asset_id}"
        bearer = {"Authorization": f"Bearer {token}"}
        key = {"X-API-Key": api_key(client, token, "bench")}
        result: dict[str, Any] = {
            "get_asset": wrk(asset_url, headers=bearer, **load),
            "get_asset_api_key": wrk(asset_url, headers=key, **load),
            "healthz": wrk(f"{server.base_url}/healthz", headers={}, **load),
        }
        if args.no_scans:
            return result
        scan_token = moderator_token(server, client, f"moderator@{name}.bench.example")
        warm = client.post(  # loads the face model before the clock starts
            "/v1/likeness/scan",
            headers={"Authorization": f"Bearer {scan_token}"},
            files={"file": (SCAN_PHOTO.name, SCAN_PHOTO.read_bytes(), "image/jpeg")},
        )
        warm.raise_for_status()
        result["get_asset_during_2_scans"] = wrk_during_scans(
            asset_url, headers=bearer, base_url=server.base_url, scan_token=scan_token, **load
        )
        return result


def targets_met(result: dict[str, Any]) -> dict[str, bool]:
    met = {}
    for route in ("get_asset", "get_asset_api_key"):
        get = result[route]
        met[f"{route}_rps"] = get["rps"] >= TARGETS["get_rps"] and get["not_2xx"] == 0
        met[f"{route}_p99_ms"] = get["p99_ms"] <= TARGETS["get_p99_ms"]
    if "get_asset_during_2_scans" in result:
        during = result["get_asset_during_2_scans"]
        met["get_during_scans_p99_ms"] = (
            during["p99_ms"] <= TARGETS["get_during_scans_p99_ms"] and during["not_2xx"] == 0
        )
    return met


def _sched_autogroup() -> bool | None:
    """Whether the kernel groups processes by session for CPU time (``kernel.sched_autogroup_
    enabled``). PostgreSQL puts each backend in a session of its own; with this on, a saturated
    API process starved some backends for up to 2 s, which became PostgreSQL's p99 (README)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:  # not Linux, or a kernel without it
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="clearhouse serve --workers")
    parser.add_argument("--no-access-log", action="store_true", help="serve --no-access-log")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-scans", action="store_true", help="skip the GET during scans")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    report: dict[str, Any] = {
        "bench": "api",
        "cpus": os.cpu_count(),
        "sched_autogroup": _sched_autogroup(),
        "workers": args.workers,
        "access_log": not args.no_access_log,
        "wrk": f"-t1 -c{args.connections} -d{args.duration}s --latency",
        "targets": TARGETS,
        "cpu_counted": "clearhouse serve's processes, and on PostgreSQL the backends serving them",
    }
    for name in args.databases.split(","):
        database_url = None if name == "sqlite" else fresh_postgres_url(BENCH_SCHEMA)
        if name != "sqlite" and database_url is None:
            report[name] = None
            continue
        result = run_database(
            name,
            database_url=database_url,
            workers=args.workers,
            access_log=not args.no_access_log,
            args=args,
        )
        report[name] = {**result, "targets_met": targets_met(result)}
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
