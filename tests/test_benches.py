"""The benchmarks still run and print one JSON line (small sizes; timings are not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def test_registry_bench_reports_both_lookups_per_backend():
    report = _run("bench/registry.py", "--assets", "300", "--lookups", "100")
    for backend in ("sqlite", "postgresql"):
        if report[backend] is None:
            continue
        for lookup in ("grant_status", "policy_in_force"):
            assert report[backend][lookup]["n"] == 100
            assert 0 < report[backend][lookup]["p50_ms"] <= report[backend][lookup]["p99_ms"]


def test_likeness_bench_reports_exact_and_approximate_search_and_the_dlib_scan():
    report = _run("bench/likeness.py", "--quick")
    (size,) = report["sizes"]
    assert size["templates"] == 10_000
    assert size["approximate_faiss"]["recall_at_1"]
    assert size["exact_numpy"]["memory_ratio"] <= 1.2
    assert report["scan_640x480_dlib_ms"]["faces"] == 1
