"""The embedded likeness key store's costs: what a scan adds (the keys of the likenesses it
matched, up to five), what an index rebuild reads (every key), and a durable put and destroy.

Each figure is the median and p99 over repeated calls on a store of ``--likenesses`` keys in
a temporary folder (so on this machine's disk; fsync included). Prints one JSON line.

    .venv/bin/python bench/key_store.py [--likenesses 10000] [--calls 300]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from likeness.key_store import WrappedKeyFile, WrappedKeyStore
from likeness.vault_crypto import generate_master_key, load_master_key, new_data_key


def _timed(call: Callable[[int], object], calls: int) -> dict[str, float]:
    seconds = []
    for number in range(calls):
        start = time.perf_counter()
        call(number)
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 3),
        "p99_ms": round(seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--likenesses", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keys = WrappedKeyFile(Path(folder) / "likeness-keys.db")
        store = WrappedKeyStore(
            keys=keys,
            master_key=load_master_key(key_b64=generate_master_key()),
        )
        ids = [uuid.uuid4() for _ in range(args.likenesses)]
        fresh = [uuid.uuid4() for _ in range(args.calls)]
        rows = [(str(i), new_data_key(master_key=store.master_key, likeness_id=i)[1]) for i in ids]
        with keys._connect() as connection:  # one transaction, not one fsync per key
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO likeness_data_key (likeness_id, wrapped) VALUES (?, ?)", rows
            )
            connection.execute("COMMIT")
        report = {
            "likenesses": args.likenesses,
            "calls": args.calls,
            "put": _timed(lambda n: store.put(fresh[n]), args.calls),
            "scan_get_many_5": _timed(lambda n: store.get_many(ids[n : n + 5]), args.calls),
            "destroy": _timed(lambda n: store.destroy(fresh[n]), args.calls),
        }
        rebuild_calls = max(3, args.calls // 100)
        report["rebuild_get_many_all"] = _timed(lambda n: store.get_many(ids), rebuild_calls)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
