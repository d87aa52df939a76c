"""The IP image check's CLIP path: what it costs, not how well it finds (no real weights can
be fetched here, so nothing is said of quality). Prints one JSON line.

    .venv/bin/python bench/clip_embeddings.py           # tiny and ViT-B/32-shaped; 30,000 refs
    .venv/bin/python bench/clip_embeddings.py --quick   # the tiny model; 3,000 references

For each model, random weights written as an operator's directory (tests/clip_models.py):
the start check (load and one embedding), then embedding one uploaded PNG picture at a time
(decode, the processor, the model), in this process on ``--threads`` torch threads (one, as
a media worker runs it). Then an index of ``--references`` references (real fingerprints of
drawn characters, random unit embeddings of the model's width), searched one input picture at
a time with and without an embedding.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from clip_models import TINY, VIT_B_32, build_random_clip
from drawn_characters import draw_character, png_bytes

from rights.matching.clip_embeddings import embed_pictures, load_clip_encoder
from rights.matching.image_fingerprints import input_fingerprint, reference_fingerprint
from rights.matching.images import IndexedReference, ReferenceImageIndex


def _ms(samples_s: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_s, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1e3, 2), "p99_ms": round(cuts[98] * 1e3, 2)}


def embedding(shape: dict, *, pictures: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        model_dir = build_random_clip(Path(folder) / "clip", shape=shape)
        started = time.perf_counter()
        encoder = load_clip_encoder(model_dir)
        load_s = time.perf_counter() - started
        weights = (model_dir / "model.safetensors").stat().st_size
    uploads = [png_bytes(draw_character(700_000 + n)) for n in range(pictures)]
    embed_pictures(encoder, uploads[:1])  # warm up
    samples = []
    for data in uploads:
        started = time.perf_counter()
        embed_pictures(encoder, [data])
        samples.append(time.perf_counter() - started)
    return {
        "dimension": encoder.dimension,
        "weights_mb": round(weights / 1e6, 1),
        "start_check_s": round(load_s, 2),
        "embed_png_256px": _ms(samples),
    }


def search(*, references: int, dimension: int, lookups: int, distinct: int = 50) -> dict:
    rng = np.random.default_rng(0)
    drawn = [np.asarray(draw_character(900_000 + n)) for n in range(distinct)]
    fingerprints = [reference_fingerprint(picture) for picture in drawn]
    vectors = rng.standard_normal((references + lookups, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ReferenceImageIndex(capacity=references)
    for number in range(references):
        index.add(
            IndexedReference(
                reference_id=uuid.uuid4(),
                asset_id=uuid.UUID(int=number // 3 + 1),
                fingerprint=fingerprints[number % distinct],
                embedding=vectors[number],
            )
        )
    queries = [input_fingerprint(drawn[n % distinct])[np.newaxis] for n in range(lookups)]
    timings: dict[str, list[float]] = {"fingerprint_only": [], "with_embedding": []}
    for n, query in enumerate(queries):
        for name, embeddings in (
            ("fingerprint_only", None),
            ("with_embedding", vectors[references + n][np.newaxis]),
        ):
            started = time.perf_counter()
            index.search(query, embeddings=embeddings, min_cosine=0.9)
            timings[name].append(time.perf_counter() - started)
    return {
        "references": references,
        "dimension": dimension,
        "index_bytes_per_reference": index.memory_bytes() // references,
        **{name: _ms(samples) for name, samples in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the tiny model, 3,000 references")
    parser.add_argument("--pictures", type=int, default=50)
    parser.add_argument("--references", type=int, default=30_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch's (a media worker: 1)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    shapes = {"tiny": TINY} if args.quick else {"tiny": TINY, "vit_b_32_shape": VIT_B_32}
    if args.quick:
        args.pictures, args.references, args.lookups = 10, 3_000, 50
    models = {name: embedding(shape, pictures=args.pictures) for name, shape in shapes.items()}
    widest = max(model["dimension"] for model in models.values())
    print(
        json.dumps(
            {
                "torch_threads": args.threads,
                "models": models,
                "search": search(
                    references=args.references, dimension=widest, lookups=args.lookups
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
