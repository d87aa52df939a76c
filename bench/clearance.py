"""Clearance: the IP text check's detection rates on the quality set and the time to check a
text-only prompt against 10,000 registered assets, clearances per second and their latency,
and the evaluator's decisions per second. Prints one JSON line.

    .venv/bin/python bench/clearance.py [--assets 10000] [--prompts 2000] [--quick]
        [--databases sqlite,postgresql] [--duration 10] [--connections 4] [--rate 50]
        [--content-only]

``rates``: the share of each category of the quality set (tests/ip_quality.py) found
(positives) or flagged (negatives), on the held-out and the development halves, with the
quality set's 52 assets registered alone, then among ``--assets`` in all (the rest invented by
bench/fillers.py, crowding the same vocabulary). ``text_match``: `MatchingRuntime.match` on a
SQLite catalogue of ``--assets`` assets, one prompt at a time in this process (the prompts of
the quality set, in turn): p50/p99 and matches per second, each including the per-request check
that the catalogue is current, and the same prompts' embedding alone (the sentence model's
share). ``catalogue_load_s``: a process's first load of the catalogue
from the database (stored embeddings, no model run). ``content_categories``: the content check
on its labelled set (tests/content_quality.py), the share found per category and group or
flagged on both halves, and its own time per prompt once the prompt is read (the embedding is
the IP check's); ``short`` and ``short_named``: the same for the set's prompts of one to three
words, alone and after a registered asset's name or handle (``--content-only``: this part
alone, then stop). ``restrictions``: the restriction
check on its evaluation set (tests/restriction_quality.py), the share of breaking and of
respecting prompts denied on the held-out and the tuning halves, against the issue's targets
(``breaking_denied_at_least``, ``respecting_denied_at_most``), and its own time per prompt once
the prompt is read, for one restriction.

``clearances``: ``POST /v1/clearances`` end to end, text-only, against a live ``clearhouse
serve`` whose catalogue is the same ``--assets``, with policies and grants, on each of
``--databases`` (bench/clearance_api.py): clearances per second with ``--connections`` and no
pause, and the latency at ``--rate`` a second. ``evaluator``: the policy evaluator's decisions
per second (bench/evaluator.py, ``--evaluator-seconds``).

Registering the fillers embeds their texts once (about 45,000 for 10,000 assets); the
embeddings are kept in ``--cache`` so later runs start at once.
"""

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead (and tests/, for the set).
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

import content_quality
import ip_quality
import numpy as np
import restriction_quality
from sqlalchemy import Engine, insert, update
from sqlmodel import Session

from bench.evaluator import measure_evaluator
from bench.fillers import fillers
from bench.machine import machine
from bench.registry import percentiles
from clearhouse.accounts.models import Account
from clearhouse.db import build_engine, utcnow
from clearhouse.migrations import upgrade_database
from rights.matching.content_check import ContentCheck
from rights.matching.encoder import SentenceEncoder
from rights.matching.models import AssetTextEmbedding, TextCatalogueGeneration
from rights.matching.reading import read_prompt
from rights.matching.restrictions import RestrictionCheck
from rights.matching.runtime import MatchingRuntime
from rights.matching.store import text_key
from rights.matching.types import semantic_texts
from rights.models import Asset, AssetKind

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "clearhouse-bench-embeddings"


def registered_bodies(total: int) -> list[dict]:
    """The quality set's assets, then invented ones up to ``total``."""
    quality = ip_quality.registered_assets()
    taken = {body["handle"] for body in quality}
    return quality + fillers(max(0, total - len(quality)), taken=taken)


def texts_of(body: dict) -> list[str]:
    return semantic_texts(
        description=body["description"],
        example_prompts=body["example_prompts"],
        keywords=body["keywords"],
    )


def embeddings(encoder: SentenceEncoder, texts: list[str], cache: Path) -> dict[str, np.ndarray]:
    """Every text's embedding by `text_key`, from the cache where it was computed before."""
    digest = hashlib.sha256("\n".join([encoder.model_key, *texts]).encode()).hexdigest()[:16]
    path = cache / f"{digest}.npy"
    distinct = list(dict.fromkeys(texts))
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = encoder.encode(distinct)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return dict(zip(map(text_key, distinct), vectors, strict=True))


def seed(engine: Engine, bodies: list[dict], vectors: dict[str, np.ndarray]) -> None:
    """One holder registering every body, with its stored embeddings, in bulk."""
    now = utcnow()
    owner_id = uuid.uuid4()
    asset_rows, embedding_rows = [], []
    for number, body in enumerate(bodies, start=1):
        asset_id = ip_quality.asset_id_for(body["handle"])
        asset_rows.append(
            {
                "id": asset_id,
                "owner_id": owner_id,
                "kind": AssetKind(body["kind"]),
                "handle": body["handle"],
                "name": body["name"],
                "aliases": body["aliases"],
                "description": body["description"],
                "keywords": body["keywords"],
                "example_prompts": body["example_prompts"],
                "catalogue_generation": number,
                "created_at": now,
                "updated_at": now,
            }
        )
        for position, text in enumerate(texts_of(body)):
            embedding_rows.append(
                {
                    "asset_id": asset_id,
                    "model_key": SentenceEncoder.model_key,
                    "position": position,
                    "text_sha256": text_key(text),
                    "vector": vectors[text_key(text)].tobytes(),
                }
            )
    with Session(engine) as session:
        session.add(
            Account(
                id=owner_id,
                email="bench@example.org",
                password_hash="-",
                display_name="Bench",
                date_of_birth=None,
                revenue_share_bps=7000,
            )
        )
        session.flush()
        for start in range(0, len(asset_rows), 1000):
            session.execute(insert(Asset), asset_rows[start : start + 1000])
        for start in range(0, len(embedding_rows), 2000):
            session.execute(insert(AssetTextEmbedding), embedding_rows[start : start + 2000])
        session.execute(update(TextCatalogueGeneration).values(generation=len(bodies)))
        session.commit()


def quality_rates(matched_handles) -> dict:
    cases = ip_quality.cases()
    return {
        split: ip_quality.rates([c for c in cases if c.split == split], matched_handles)
        for split in (ip_quality.HELD_OUT, ip_quality.DEVELOPMENT)
    }


def rates_alone(encoder: SentenceEncoder) -> dict:
    """The quality set's assets registered alone, matched in memory."""
    return quality_rates(ip_quality.matcher_of_the_set_alone(encoder))


def content_categories(encoder: SentenceEncoder) -> dict:
    """The content check's rates on both halves of its set (and of its short prompts, alone
    and naming an asset), and its time per read prompt."""
    check = ContentCheck(encoder=encoder)
    cases = content_quality.cases()
    readings = [read_prompt(case.prompt, encoder=encoder) for case in cases]
    found = {
        reading.text: {finding.category for finding in check.find_in_reading(reading)}
        for reading in readings
    }
    samples = []
    for reading in readings * 3:
        start = time.perf_counter_ns()
        check.find_in_reading(reading)
        samples.append(time.perf_counter_ns() - start)
    short = content_quality.short_cases()
    named = content_quality.naming_an_asset(short)
    found |= {case.prompt: _categories(check, case.prompt) for case in short}
    found |= {case.prompt: _categories(check, case.prompt, [name]) for case, name in named.items()}
    return _by_split(cases, found) | {
        "short": _by_split(short, found),
        "short_named": _by_split(named, found),
        "check_per_prompt": percentiles(samples),
    }


def _categories(check: ContentCheck, prompt: str, names: Sequence[tuple[int, int]] = ()) -> set:
    reading = read_prompt(prompt, encoder=check.encoder)
    return {finding.category for finding in check.find_in_reading(reading, names=names)}


def _by_split(cases: Iterable[content_quality.ContentCase], found: dict[str, set]) -> dict:
    return {
        split: content_quality.rates([c for c in cases if c.split == split], found.__getitem__)
        for split in content_quality.SPLITS
    }


def restrictions(encoder: SentenceEncoder) -> dict:
    """The restriction check's rates on both halves of its set, and its time per read prompt
    (its restrictions embedded before, as when their policy version was saved)."""
    check = RestrictionCheck(encoder=encoder, content=ContentCheck(encoder=encoder))
    check.prepare(restriction_quality.restrictions())
    report = restriction_quality.measure(check)
    cases = restriction_quality.cases()
    readings = [(case, read_prompt(case.prompt, encoder=encoder)) for case in cases]
    samples = []
    for case, reading in readings * 3:
        content = check.content.find_in_reading(reading)
        start = time.perf_counter_ns()
        check.broken([case.restriction], embedding=reading.embedding, content=content)
        samples.append(time.perf_counter_ns() - start)
    return report | {
        "breaking_denied_at_least": restriction_quality.BREAKING_DENIED_AT_LEAST,
        "respecting_denied_at_most": restriction_quality.RESPECTING_DENIED_AT_MOST,
        "check_per_prompt": percentiles(samples),
    }


def clearance_throughput(args: argparse.Namespace, bodies: list[dict], vectors: dict) -> dict:
    """``POST /v1/clearances`` under load against a live server whose catalogue is ``bodies``
    (bench/clearance_api.py). The requests' prompts: the quality set's (touching one of its
    assets or none) and one example prompt of each of the first ``--filler-prompts`` fillers,
    shuffled together."""
    from bench.clearance_api import clearances_under_load

    quality = {body["handle"] for body in ip_quality.registered_assets()}
    fillers_ = [body for body in bodies if body["handle"] not in quality]
    prompts = [case.prompt for case in ip_quality.cases()]
    prompts += [body["example_prompts"][0] for body in fillers_[: args.filler_prompts]]
    random.Random(8).shuffle(prompts)
    return clearances_under_load(
        register_catalogue=lambda engine: seed(engine, bodies, vectors),
        prompts=prompts,
        databases=args.databases.split(","),
        duration_s=args.duration,
        connections=args.connections,
        rate=args.rate,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--prompts", type=int, default=2_000, help="timed text matches")
    parser.add_argument("--quick", action="store_true", help="300 assets, 100 timed prompts")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--databases", default="sqlite,postgresql", help="for the clearances")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=4, help="wrk's connections")
    parser.add_argument("--rate", type=float, default=50, help="paced clearances per second")
    parser.add_argument("--filler-prompts", type=int, default=1000)
    parser.add_argument("--evaluator-seconds", type=float, default=5)
    parser.add_argument(
        "--content-only", action="store_true", help="only content_categories, then stop"
    )
    args = parser.parse_args()
    if args.quick:
        args.assets, args.prompts, args.duration, args.evaluator_seconds = 300, 100, 1, 0.2

    encoder = SentenceEncoder()
    report: dict = {"machine": machine(), "assets": args.assets, "model": encoder.model_key}
    if args.content_only:
        print(json.dumps(report | {"content_categories": content_categories(encoder)}))
        return
    report["rates_quality_set_alone"] = rates_alone(encoder)
    report["content_categories"] = content_categories(encoder)
    report["restrictions"] = restrictions(encoder)

    bodies = registered_bodies(args.assets)
    texts = [text for body in bodies for text in texts_of(body)]
    started = time.perf_counter()
    vectors = embeddings(encoder, texts, args.cache)
    report["embedding_s"] = round(time.perf_counter() - started, 1)

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        upgrade_database(url)
        engine = build_engine(url)
        seed(engine, bodies, vectors)
        runtime = MatchingRuntime(encoder=encoder)
        handles = {ip_quality.asset_id_for(body["handle"]): body["handle"] for body in bodies}
        with Session(engine) as session:
            started = time.perf_counter()
            runtime.refresh(session)
            report["catalogue_load_s"] = round(time.perf_counter() - started, 2)
            report[f"rates_among_{args.assets}_assets"] = quality_rates(
                lambda prompt: {handles[m.asset_id] for m in runtime.match(session, prompt)}
            )
            prompts = [case.prompt for case in ip_quality.cases()]
            samples = []
            began = time.perf_counter()
            for number in range(args.prompts):
                prompt = prompts[number % len(prompts)]
                start = time.perf_counter_ns()
                runtime.match(session, prompt)
                samples.append(time.perf_counter_ns() - start)
            elapsed = time.perf_counter() - began
        engine.dispose()
    embedding_only = []
    for number in range(args.prompts):
        start = time.perf_counter_ns()
        encoder.encode_one(prompts[number % len(prompts)])
        embedding_only.append(time.perf_counter_ns() - start)
    report["text_match"] = {
        **percentiles(samples),
        "matches_per_s": round(args.prompts / elapsed, 1),
        "of_which_prompt_embedding": percentiles(embedding_only),
    }
    report["clearances"] = clearance_throughput(args, bodies, vectors)
    report["evaluator"] = measure_evaluator(args.evaluator_seconds)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
