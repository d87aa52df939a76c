"""Scale-out on Ray: face scans and clearances per second with 1 and 2 Ray scan actors; prints
one JSON line.

    .venv/bin/python bench/scale.py                  # 20 s of each load, 1 and 2 actors
    .venv/bin/python bench/scale.py --seconds 2      # a quick look (the tests' size)

A local Ray instance (``ray.init`` with ``--cpus``, 2 by default: this machine's cores) and,
for each actor count, a live ``clearhouse serve`` on SQLite given its address
(``CLEARHOUSE_RAY_ADDRESS``, ``CLEARHOUSE_RAY_SCAN_ACTORS``) that accepts still photos. A
holder enrols the three Obama photos of ../shared/data/faces, then two closed loops of
``--clients`` connections each, one after the other, for ``--seconds``:

- ``scans``: ``POST /v1/likeness/scan`` of obama.jpg by its holder (the face found, their
  likeness named);
- ``clearances``: ``POST /v1/clearances`` with a prompt and obama.jpg as input by a creator's
  API key (the IP text check, the face scan on the actors, the decision: denied, since the
  holder granted nothing; recorded as any clearance is);
- ``check_frames``: before the server starts, the face work of an output check alone, from
  this process: one request at a time of ``CHECK_FRAMES`` frames (obama.jpg at 480x640) in
  batches of ``CHECK_BATCH``, spread over the actors (frames a second; every frame's face
  must come back), with the cores the actors used meanwhile.

Each load also reports the server process's CPU time per answer (the actors' is not in it):
on a machine shared with other work the rates move with the load, the CPU much less.

Every answer must be a 200/201 that found the face; a 503 (all actors taken for longer than a
request waits) is counted apart, and anything else stops the bench. ``ratio_2_to_1`` (with
``--actors 1,2``, the default) is the 2-actor figure over the 1-actor one; the issue's target
is at least 1.7 on 2 cores. The server, the clients and the actors share the cores, so the
ratio says how much of a request's time is the face model's.

``index``: the face-index shard figures of bench/scale_index.py over ``--index-templates``
templates (1M by default; 3,000 and shard counts 1 and 2 when ``--seconds`` is under 5), on a
Ray instance of its own once the actors' is shut down.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repository, not bench/, first

from bench.machine import machine
from bench.scale_index import index_figures
from bench.server import (
    FACES_DIR,
    LiveServer,
    api_key,
    holder_token,
    live_server,
    process_tree_cpu_s,
    processes_cpu_s,
)

OBAMA = ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"]
TARGET_RATIO = 1.7
PROMPT = "a portrait of this man walking through a market at dusk"
PARAMETERS = {"duration_ms": 2000, "width": 640, "height": 360, "steps": 20, "seed": 1}
CHECK_FRAMES = 16
CHECK_BATCH = 4


def start_ray(cpus: int) -> str:
    """A local Ray instance of ``cpus`` CPUs, quiet and offline; its address."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_REPORT_URL", "http://127.0.0.1:9/")
    # The actors import this checkout.
    root = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
    import ray

    ray.init(
        address="local", num_cpus=cpus, num_gpus=0, include_dashboard=False, log_to_driver=False
    )
    return ray.get_runtime_context().gcs_address


def enrolled_holder(server: LiveServer, client: httpx.Client) -> tuple[dict, str]:
    """A holder whose likeness holds the Obama photos: their headers and the likeness id."""
    headers = {"Authorization": f"Bearer {holder_token(server, client, 'holder@scale.example')}"}
    asset = client.post(
        "/v1/assets",
        headers=headers,
        json={"kind": "likeness", "handle": "bench_face", "name": "Bench Face"},
    )
    asset.raise_for_status()
    asset_id = asset.json()["id"]
    opened = client.post(f"/v1/assets/{asset_id}/enrolments", headers=headers, json={})
    opened.raise_for_status()
    files = [("files", (name, (FACES_DIR / name).read_bytes(), "image/jpeg")) for name in OBAMA]
    enrolled = client.post(
        f"/v1/enrolments/{opened.json()['id']}/frames", headers=headers, files=files
    )
    enrolled.raise_for_status()
    if enrolled.json()["enrolment"]["status"] != "enrolled":
        raise RuntimeError(f"the bench's enrolment failed: {enrolled.text}")
    return headers, asset_id


def closed_loop(
    send, *, clients: int, seconds: float, cpu_s: Callable[[], float] | None = None
) -> dict[str, Any]:
    """``clients`` threads calling ``send()`` back to back for ``seconds``: the answers that
    came within that time, a second, and how many of them were refused with 503; with
    ``cpu_s`` (a process's CPU seconds so far), its CPU time per answer."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    window: list[float] = []

    def loop() -> None:
        barrier.wait()
        while time.perf_counter() < window[1]:
            outcome = send()
            if time.perf_counter() <= window[1]:
                with lock:
                    outcomes[outcome] += 1

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    window += [time.perf_counter(), time.perf_counter() + seconds]
    cpu_before = cpu_s() if cpu_s else 0.0
    barrier.wait()
    for thread in threads:
        thread.join()
    figures = {
        "answered": outcomes["ok"],
        "busy_503": outcomes["busy"],
        "per_s": round(outcomes["ok"] / seconds, 2),
    }
    if cpu_s is not None:
        # The answers that came after the window cost CPU too: counted with them.
        answers = max(sum(outcomes.values()), 1) + clients
        figures["server_cpu_ms_per_answer"] = round((cpu_s() - cpu_before) * 1000 / answers, 1)
    return figures


def _outcome(response: httpx.Response, *, found: bool) -> str:
    if response.status_code == 503:
        return "busy"
    if response.status_code not in (200, 201) or not found:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")
    return "ok"


def measure(
    *, ray_address: str, actors: int, clients: int, seconds: float, data_dir: Path
) -> dict[str, Any]:
    """Scans and clearances a second through a server with ``actors`` Ray scan actors."""
    photo = (FACES_DIR / "obama.jpg").read_bytes()
    settings = {
        "CLEARHOUSE_RAY_ADDRESS": ray_address,
        "CLEARHOUSE_RAY_SCAN_ACTORS": str(actors),
        "CLEARHOUSE_MEDIA_CONCURRENCY": str(clients),
        "CLEARHOUSE_LIVENESS_REQUIRED": "false",
        "CLEARHOUSE_GENERATION_WORKER": "false",
        "CLEARHOUSE_API_KEY_LIMIT_PER_MINUTE": "1000000",
    }
    with (
        live_server(
            data_dir=data_dir, database_url=None, access_log=False, settings=settings
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=120) as client,
    ):
        holder, asset_id = enrolled_holder(server, client)
        creator = holder_token(server, client, "creator@scale.example", role="creator")
        key = {"X-API-Key": api_key(client, creator, "generator", scopes=("clearance",))}
        request = json.dumps(
            {"prompt": PROMPT, "declared_use": "personal", "parameters": PARAMETERS}
        )

        def scan() -> str:
            answer = client.post(
                "/v1/likeness/scan",
                headers=holder,
                files={"file": ("obama.jpg", photo, "image/jpeg")},
            )
            faces = answer.json().get("faces", []) if answer.status_code == 200 else []
            named = {match["asset_id"] for face in faces for match in face["matches"]}
            return _outcome(answer, found=named == {asset_id})

        def clearance() -> str:
            answer = client.post(
                "/v1/clearances",
                headers=key,
                files=[
                    ("request", (None, request, "application/json")),
                    ("files", ("obama.jpg", photo, "image/jpeg")),
                ],
            )
            denied = answer.status_code in (200, 201) and answer.json()["outcome"] == "denied"
            return _outcome(answer, found=denied)

        scan()  # warm: the actors' first frames, the index loaded
        clearance()  # warm: the sentence model opened
        cpu_s = partial(process_tree_cpu_s, server.pid)  # not the actors': Ray's processes
        return {
            "scans": closed_loop(scan, clients=clients, seconds=seconds, cpu_s=cpu_s),
            "clearances": closed_loop(clearance, clients=clients, seconds=seconds, cpu_s=cpu_s),
        }


def check_frames(*, ray_address: str, actors: int, seconds: float) -> dict[str, Any]:
    """Frames a second of output checks' face work on ``actors`` scan actors, one check at a
    time, with no server: the actors' own scaling."""
    import numpy as np
    import ray
    from PIL import Image

    from clearhouse.settings import Settings
    from likeness.ray_scan import RayFaceBackend, start_scan_actors

    frame = np.asarray(Image.open(FACES_DIR / "obama.jpg").convert("RGB").resize((480, 640)))
    on_ray = Settings(ray_address=ray_address, ray_scan_actors=actors)
    started = start_scan_actors(on_ray)
    try:
        backend = RayFaceBackend(started, batch=CHECK_BATCH, retry_within_s=10)
        frames = [frame] * CHECK_FRAMES

        def check() -> str:
            found = backend.detect_and_embed(frames)
            if [len(faces) for faces in found] != [1] * CHECK_FRAMES:
                raise RuntimeError(f"an output check's frames lost their faces: {found}")
            return "ok"

        check()  # warm
        control = {"concurrency_group": "control"}
        pids = ray.get([actor.pid.options(**control).remote() for actor in started])
        cpu_before, began = processes_cpu_s(pids), time.perf_counter()
        loop = closed_loop(check, clients=1, seconds=seconds)
        actor_cores = (processes_cpu_s(pids) - cpu_before) / (time.perf_counter() - began)
    finally:
        for actor in started:
            ray.kill(actor, no_restart=True)
    return {
        "checks": loop["answered"],
        "frames_per_s": round(loop["per_s"] * CHECK_FRAMES, 1),
        # The cores the actors had between them: on a shared machine, what bounds the rate.
        "actor_cores": round(actor_cores, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each load's length")
    parser.add_argument("--clients", type=int, default=4, help="connections of each load")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument(
        "--actors", default="1,2", help="scan actor counts to measure; the ratio needs 1 and 2"
    )
    parser.add_argument("--index-templates", type=int, default=1_000_000)
    args = parser.parse_args()
    quick = args.seconds < 5
    ray_address = start_ray(args.cpus)
    results: dict[str, Any] = {}
    for actors in (int(count) for count in args.actors.split(",")):
        check = check_frames(ray_address=ray_address, actors=actors, seconds=args.seconds)
        with tempfile.TemporaryDirectory() as folder:
            data_dir = Path(folder)
            results[f"actors_{actors}"] = {
                **measure(
                    ray_address=ray_address,
                    actors=actors,
                    clients=args.clients,
                    seconds=args.seconds,
                    data_dir=data_dir,
                ),
                "check_frames": check,
            }
    import ray

    ray.shutdown()
    index = (
        index_figures(templates=3000, shards=(1, 2), queries=20)
        if quick
        else index_figures(templates=args.index_templates)
    )
    per_s = {"scans": "per_s", "clearances": "per_s", "check_frames": "frames_per_s"}
    ratio = None
    if {"actors_1", "actors_2"} <= results.keys():
        one, two = results["actors_1"], results["actors_2"]
        ratio = {
            load: round(two[load][key] / max(one[load][key], 1e-9), 2)
            for load, key in per_s.items()
        }
    print(
        json.dumps(
            {
                "bench": "scale",
                "ray_cpus": args.cpus,
                "clients": args.clients,
                **results,
                "ratio_2_to_1": ratio,
                "target_ratio": TARGET_RATIO,
                "targets_met": ratio
                and {load: value >= TARGET_RATIO for load, value in ratio.items()},
                "index": index,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
