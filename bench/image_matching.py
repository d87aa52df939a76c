"""The IP image check: how often it finds edited copies of registered characters, how often
other pictures match, and how long a lookup takes against 10,000 assets with three reference
pictures each. Prints one JSON line.

    .venv/bin/python bench/image_matching.py            # seeds 1, 2, 5 and 17; 30,000 references
    .venv/bin/python bench/image_matching.py --quick    # seed 17; 3,000 references

Quality: tests/drawn_characters.py draws 50 characters per seed and registers one picture of
each; every edit of every character is looked up, and 300 pictures that are none of them
(150 other characters, 150 noise, gradients, shapes and the face photos). The match bounds
were chosen on seeds 3, 7 and 11, so the default seeds are new to them.

Latency: an index of ``--assets`` x ``--references`` references whose fingerprints are real
ones (``--distinct`` drawn characters, fingerprinted, each serving several assets so that a
lookup meets as many near candidates as real pictures would), looked up with edited copies
and with unrelated pictures (noise, gradients, shapes: how many of these match anything among
30,000 references is the false positive rate at that size, for such pictures), one input
picture per lookup, in this process on one thread.
"""

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from drawn_characters import (
    EDITS,
    draw_character,
    jpeg_bytes,
    measure_image_check,
    unrelated_pictures,
)
from faces import FACES_DIR

from rights.matching.image_fingerprints import input_fingerprint, reference_fingerprint
from rights.matching.images import IndexedReference, ReferenceImageIndex, fingerprint_inputs


def quality(seeds: list[int]) -> dict:
    runs = [measure_image_check(seed=seed, faces_dir=FACES_DIR) for seed in seeds]
    return {
        "seeds": seeds,
        "characters_per_seed": runs[0]["characters"],
        "negatives_per_seed": runs[0]["negatives"],
        "found": {
            edit: round(statistics.fmean(run["found"][edit] for run in runs), 4) for edit in EDITS
        },
        "false_positive_rate": round(statistics.fmean(r["false_positive_rate"] for r in runs), 4),
        "false_positive_rate_worst_seed": round(max(r["false_positive_rate"] for r in runs), 4),
        "wrong_character_rate": round(statistics.fmean(r["wrong_character_rate"] for r in runs), 4),
    }


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_s, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1e3, 3),
        "p99_ms": round(cuts[98] * 1e3, 3),
        "n": len(samples_s),
    }


def latency(*, assets: int, references: int, distinct: int, lookups: int) -> dict:
    pictures = [draw_character(900_000 + n) for n in range(distinct)]
    started = time.perf_counter()
    fingerprints = [reference_fingerprint(np.asarray(picture)) for picture in pictures]
    fingerprint_s = (time.perf_counter() - started) / distinct
    total = assets * references
    index = ReferenceImageIndex(capacity=total)
    started = time.perf_counter()
    for number in range(total):
        index.add(
            IndexedReference(
                reference_id=uuid.uuid4(),
                asset_id=uuid.UUID(int=number // references + 1),
                fingerprint=fingerprints[number % distinct],
            )
        )
    build_s = time.perf_counter() - started

    rng = np.random.default_rng(0)
    edits = list(EDITS.values())
    copies = [
        edits[n % len(edits)](pictures[n % distinct], rng) for n in range(lookups // 2)
    ] + unrelated_pictures(lookups - lookups // 2, seed=0)
    arrays = [np.asarray(picture.convert("RGB")) for picture in copies]
    queries = [input_fingerprint(array)[np.newaxis] for array in arrays]
    index.search(queries[0])  # warm up
    search_s, matched = [], []
    for query in queries:
        started = time.perf_counter()
        matched.append(bool(index.search(query)))
        search_s.append(time.perf_counter() - started)
    copies_found, unrelated_matched = matched[: lookups // 2], matched[lookups // 2 :]
    uploads = [jpeg_bytes(picture) for picture in copies[: max(20, lookups // 10)]]
    end_to_end_s = []
    for data in uploads:
        started = time.perf_counter()
        index.search(fingerprint_inputs([data]))
        end_to_end_s.append(time.perf_counter() - started)
    return {
        "references": total,
        "assets": assets,
        "distinct_pictures": distinct,
        "fingerprint_reference_ms": round(fingerprint_s * 1e3, 1),
        "index_build_s": round(build_s, 2),
        "index_bytes_per_reference": index.memory_bytes() // total,
        "search": _percentiles(search_s),
        "edited_copies_found": round(statistics.fmean(copies_found), 3),
        "unrelated_pictures_matching": round(statistics.fmean(unrelated_matched), 4),
        "decode_fingerprint_and_search_jpeg": _percentiles(end_to_end_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 3,000 references")
    parser.add_argument("--seeds", default="1,2,5,17", help="quality seeds, comma-separated")
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--references", type=int, default=3, help="per asset")
    parser.add_argument("--distinct", type=int, default=300, help="drawn reference pictures")
    parser.add_argument("--lookups", type=int, default=400)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.assets, args.distinct, args.lookups = "17", 1_000, 50, 100
    print(
        json.dumps(
            {
                "quality": quality([int(seed) for seed in args.seeds.split(",")]),
                "latency": latency(
                    assets=args.assets,
                    references=args.references,
                    distinct=args.distinct,
                    lookups=args.lookups,
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
