"""The machine a benchmark ran on, so that figures from machines of different speed can be
compared: its processor, cores and load, and a fixed piece of pure-Python work timed on it.

The 2-core machine these benchmarks are run on is not always the same hardware from one
session to the next, so a figure is read beside the ``reference_ms`` measured with it.
"""

import os
import platform
import time


def reference_work() -> int:
    """A fixed mix of what the platform's Python does: dicts, strings, small objects."""
    total = 0
    table: dict[str, int] = {}
    for number in range(200_000):
        key = f"asset-{number % 997}"
        table[key] = table.get(key, 0) + number
        total += len(key)
    return total + len(table)


def machine() -> dict:
    """``reference_ms``: the best of five runs of :func:`reference_work` (lower is faster)."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        reference_work()
        runs.append(time.perf_counter() - started)
    return {
        "processor": _processor(),
        "cores": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "reference_ms": round(min(runs) * 1000, 1),
        "python": platform.python_version(),
    }


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
