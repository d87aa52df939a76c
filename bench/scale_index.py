"""The sharded face index against one exact scan of the same templates on the same cores:
single-query p50/p99 over 1, 2 and 4 index shards on Ray actors (likeness/index/sharded.py)
and over one in-process FaceIndex, with the memory each shard holds. Prints one JSON line.

    .venv/bin/python bench/scale_index.py                        # 1M templates, 1/2/4 shards
    .venv/bin/python bench/scale_index.py --templates 20000 --queries 50

Templates are synthetic unit vectors of dlib's dimension (128), three per likeness; each
query is a stored template moved a little (cosine ~0.95), searched for its best 5 at the
0.9 threshold, one face per call as a scan sends them. Exact search costs the same whatever
the vectors are. Ray runs locally with one logical CPU per shard (each shard's BLAS then
runs on one thread). The in-process index is timed with one BLAS thread (the API's default,
``CLEARHOUSE_BLAS_THREADS``), with every core, and with each shard count's cores: N shards
run on min(N, cores) cores, and each shard count's p99 is divided by the exact scan's on as
many (here 1 shard against one thread, 2 and 4 against both cores). The issue's target is
1.3 at most (``TARGET_P99_RATIO``). More shards than cores share them, which a deployment
avoids (one shard a core); they are timed all the same.
``bench/scale.py`` calls :func:`index_figures`.
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.machine import machine
from likeness.index import FaceIndex
from likeness.index.batches import TemplateBatch
from likeness.index.types import UUID_DTYPE

MODEL_KEY = "dlib/resnet-v1"
DIMENSION = 128
TEMPLATES_PER_LIKENESS = 3
THRESHOLD = 0.9
K = 5
TARGET_P99_RATIO = 1.3
_ROWS_AT_ONCE = 100_000  # generated per step, so the float64 draft never holds them all


def synthetic_templates(count: int, *, seed: int) -> TemplateBatch:
    """``count`` random unit vectors with random template ids, three per likeness."""
    rng = np.random.default_rng(seed)
    vectors = np.empty((count, DIMENSION), dtype=np.float32)
    for start in range(0, count, _ROWS_AT_ONCE):
        rows = rng.standard_normal((min(_ROWS_AT_ONCE, count - start), DIMENSION))
        vectors[start : start + len(rows)] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    likenesses = np.frombuffer(rng.bytes(16 * -(-count // TEMPLATES_PER_LIKENESS)), UUID_DTYPE)
    return TemplateBatch(
        model_key=MODEL_KEY,
        vectors=vectors,
        template_ids=np.frombuffer(rng.bytes(16 * count), UUID_DTYPE),
        likeness_ids=np.repeat(likenesses, TEMPLATES_PER_LIKENESS)[:count],
    )


def query_faces(templates: TemplateBatch, *, count: int, seed: int) -> np.ndarray:
    """Stored faces seen again: each at cosine ~0.95 from a random template."""
    rng = np.random.default_rng(seed)
    picked = templates.vectors[rng.integers(0, templates.count, count)]
    moved = picked + 0.32 * rng.standard_normal(picked.shape) / np.sqrt(DIMENSION)
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def _latency_ms(search: Callable[[np.ndarray], object], faces: np.ndarray) -> dict:
    for face in faces[:5]:
        search(face[np.newaxis])  # warm: first calls pay for imports and page faults
    samples = []
    for face in faces:
        started = time.perf_counter()
        search(face[np.newaxis])
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50": round(statistics.median(samples), 3),
        "p99": round(float(np.percentile(samples, 99)), 3),
        "n": len(samples),
    }


def _one_exact_scan(
    templates: TemplateBatch, faces: np.ndarray, *, threads: list[int]
) -> tuple[dict, list]:
    """One in-process FaceIndex over every template, timed with each BLAS thread count."""
    index = FaceIndex(device="numpy")
    index.add_batches(batches=[templates])
    answers = index.search(model_key=MODEL_KEY, queries=faces, k=K, min_similarity=THRESHOLD)

    def search(face: np.ndarray) -> object:
        return index.search(model_key=MODEL_KEY, queries=face, k=K, min_similarity=THRESHOLD)

    timed = {}
    for count in threads:
        with threadpool_limits(limits=count, user_api="blas"):
            timed[str(count)] = _latency_ms(search, faces)
    return {"memory_bytes": index.memory_bytes(), "query_ms_by_blas_threads": timed}, answers


def _sharded(templates: TemplateBatch, faces: np.ndarray, *, shards: int) -> tuple[dict, list]:
    import psutil
    import ray

    from likeness.index.sharded import ShardedFaceIndex, start_index_shards

    actors = start_index_shards(installation=f"bench-{uuid.uuid4().hex[:8]}", shards=shards)
    try:
        index = ShardedFaceIndex(
            shards=actors, read_vault=lambda _keep: (0, [templates]), deadline_s=120
        )
        started = time.perf_counter()
        index.load_behind()
        load_s = time.perf_counter() - started
        answers = index.search(model_key=MODEL_KEY, queries=faces, k=K, min_similarity=THRESHOLD)
        latency = _latency_ms(
            lambda face: index.search(
                model_key=MODEL_KEY, queries=face, k=K, min_similarity=THRESHOLD
            ),
            faces,
        )
        pids = ray.get([actor.pid.remote() for actor in actors])
        return {
            "query_ms": latency,
            "load_s": round(load_s, 2),
            "templates_per_shard": index.shard_counts(),
            "index_bytes_per_shard": index.memory_bytes(),
            "process_rss_bytes_per_shard": [psutil.Process(pid).memory_info().rss for pid in pids],
        }, answers
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)


def index_figures(
    *, templates: int = 1_000_000, shards: tuple[int, ...] = (1, 2, 4), queries: int = 300
) -> dict:
    """Query latency and memory of one exact scan and of each shard count, same templates.

    Starts a Ray of its own, ``max(shards)`` logical CPUs, unless this process is connected
    already (to a cluster of its caller's). Every sharded answer is checked against the exact
    scan's (the same likenesses, best first): a bench of a wrong answer would measure nothing.
    """
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_REPORT_URL", "http://127.0.0.1:9/")
    # Ray's workers import this checkout, as the script does.
    root = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
    batch = synthetic_templates(templates, seed=1)
    faces = query_faces(batch, count=queries, seed=2)
    cores = os.cpu_count() or 1
    exact, expected = _one_exact_scan(
        batch, faces, threads=sorted({1, cores, *(min(count, cores) for count in shards)})
    )
    owned = not ray.is_initialized()
    if owned:
        ray.init(
            address="local", num_cpus=max(shards), include_dashboard=False, log_to_driver=False
        )
    try:
        sharded = {}
        for count in shards:
            figures, answers = _sharded(batch, faces, shards=count)
            same = [[m.likeness_id for m in row] for row in answers] == [
                [m.likeness_id for m in row] for row in expected
            ]
            if not same:
                raise AssertionError(f"{count} shards answered otherwise than one exact scan")
            same_cores = exact["query_ms_by_blas_threads"][str(min(count, cores))]
            ratio = round(figures["query_ms"]["p99"] / same_cores["p99"], 3)
            figures["p99_over_exact_p99_same_cores"] = ratio
            figures["target_met"] = ratio <= TARGET_P99_RATIO
            sharded[str(count)] = figures
    finally:
        if owned:
            ray.shutdown()
    return {
        "templates": templates,
        "dimension": DIMENSION,
        "queries": queries,
        "matched_queries": sum(1 for row in expected if row),
        "exact_in_process": exact,
        "shards": sharded,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--shards", default="1,2,4", help="shard counts, comma-separated")
    args = parser.parse_args()
    shards = tuple(int(count) for count in args.shards.split(","))
    print(json.dumps(index_figures(templates=args.templates, shards=shards, queries=args.queries)))


if __name__ == "__main__":
    main()
