"""The IP text check's quality set (tests/rights/matching/cases/) and its detection rates.

The set: registered assets (``assets.toml``), prompts that touch one of them
(``positives.toml``) and prompts that touch none (``negatives.toml``). Each prompt falls into
the development split or the held-out split by a hash of its text, so nobody picks which
prompts the thresholds were chosen on; the tests assert the targets on the held-out split.

Used by tests/rights/matching/test_quality.py and bench/clearance.py.
"""

import hashlib
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rights.matching.catalogue import TextCatalogue
from rights.matching.encoder import SentenceEncoder
from rights.matching.matcher import TextMatcher
from rights.matching.types import CatalogueAsset

CASES = Path(__file__).parent / "rights" / "matching" / "cases"
DEVELOPMENT, HELD_OUT = "development", "held_out"
POSITIVE = ("disguised", "paraphrase", "keywords", "description")
NEGATIVE = ("ordinary", "near_miss", "unregistered")

# The targets: at least this share found (positives), at most this share flagged.
FOUND_AT_LEAST = {"disguised": 0.99, "paraphrase": 0.98, "keywords": 0.90, "description": 0.90}
FLAGGED_AT_MOST = {"ordinary": 0.01, "near_miss": 0.10, "unregistered": 0.25}


@dataclass(frozen=True)
class Case:
    prompt: str
    category: str
    handle: str | None  # the asset it touches; None for a negative

    @property
    def split(self) -> str:
        return split_of(self.prompt)


def split_of(prompt: str) -> str:
    """The split a prompt falls into, by a hash of its text."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return DEVELOPMENT if digest[0] % 2 == 0 else HELD_OUT


def registered_assets() -> list[dict]:
    """The quality set's assets, as an owner registers them (the API's create body)."""
    with (CASES / "assets.toml").open("rb") as file:
        return tomllib.load(file)["asset"]


def cases() -> list[Case]:
    with (CASES / "positives.toml").open("rb") as file:
        positives = tomllib.load(file)
    with (CASES / "negatives.toml").open("rb") as file:
        negatives = tomllib.load(file)
    found = [
        Case(prompt=prompt, category=category, handle=handle)
        for handle, categories in positives.items()
        for category, prompts in categories.items()
        for prompt in prompts
    ]
    return found + [
        Case(prompt=prompt, category=category, handle=None)
        for category, prompts in negatives.items()
        for prompt in prompts
    ]


def rates(
    cases: Iterable[Case], matched_handles: Callable[[str], set[str]]
) -> dict[str, dict[str, float | int]]:
    """Per category: how many prompts, and the share found (positives) or flagged (negatives).

    A positive is found when its asset is among the matches; a negative is flagged when
    anything matches."""
    tally: dict[str, list[int]] = {}
    for case in cases:
        handles = matched_handles(case.prompt)
        hit = case.handle in handles if case.handle else bool(handles)
        counts = tally.setdefault(case.category, [0, 0])
        counts[0] += 1
        counts[1] += hit
    measure = {category: "found" for category in POSITIVE} | {c: "flagged" for c in NEGATIVE}
    return {
        category: {"prompts": total, measure[category]: round(hits / total, 4)}
        for category, (total, hits) in tally.items()
    }


def meets_targets(report: dict[str, dict[str, float | int]]) -> dict[str, bool]:
    return {
        category: (
            report[category]["found"] >= FOUND_AT_LEAST[category]
            if category in FOUND_AT_LEAST
            else report[category]["flagged"] <= FLAGGED_AT_MOST[category]
        )
        for category in report
    }


def asset_id_for(handle: str) -> uuid.UUID:
    """A fixed id per handle, so runs of the set are comparable."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"clearhouse-quality/{handle}")


def catalogue_asset(body: dict) -> CatalogueAsset:
    """A registration body as the text check reads it."""
    return CatalogueAsset(
        id=asset_id_for(body["handle"]),
        handle=body["handle"],
        name=body["name"],
        aliases=tuple(body["aliases"]),
        description=body["description"],
        keywords=tuple(body["keywords"]),
        example_prompts=tuple(body["example_prompts"]),
    )


def matcher_of_the_set_alone(encoder: SentenceEncoder) -> Callable[[str], set[str]]:
    """The quality set's assets registered alone, in memory: prompt -> handles matched."""
    catalogue = TextCatalogue(dimension=encoder.dimension)
    handles = {}
    for body in registered_assets():
        asset = catalogue_asset(body)
        handles[asset.id] = asset.handle
        catalogue.put(asset, encoder.encode(asset.semantic_texts()))
    matcher = TextMatcher(catalogue=catalogue, encoder=encoder)
    return lambda prompt: {handles[match.asset_id] for match in matcher.match(prompt)}
