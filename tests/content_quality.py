"""The content check's labelled set (tests/rights/matching/cases/content_categories.toml) and
its detection rates.

Per content category, explicit and euphemistic prompts; prompts in no category: ordinary ones
(with the IP check's ordinary prompts, tests/rights/matching/cases/negatives.toml, written
before this set) and near misses. Each prompt falls into the development or the held-out split
by a hash of its text, as in tests/ip_quality.py; the margins of `ContentThresholds` were
chosen on the development split and the tests assert the targets on the held-out one.

Prompts of one to three words ("a cat", "x", "nude woman") are scored apart (`short_cases`):
alone, and after the name or handle of a registered asset, as a clearance's prompt would name
it (`naming_an_asset`).

Used by tests/rights/matching/test_content_quality.py and bench/clearance.py.
"""

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ip_quality import CASES, DEVELOPMENT, HELD_OUT, registered_assets, split_of

from policies.document import ContentCategory

POSITIVE = ("explicit", "euphemistic")
NEGATIVE = ("ordinary", "near_miss")
SPLITS = (HELD_OUT, DEVELOPMENT)

# Targets: per category, at least this share found; at most this share of negatives flagged
# (in any category).
FOUND_AT_LEAST = {"explicit": 0.90, "euphemistic": 0.80}
FLAGGED_AT_MOST = {"ordinary": 0.02, "near_miss": 0.10}


@dataclass(frozen=True)
class ContentCase:
    prompt: str
    group: str  # explicit, euphemistic, ordinary, near_miss
    category: ContentCategory | None  # None for a negative

    @property
    def split(self) -> str:
        return split_of(self.prompt)


def _labelled() -> dict:
    with (CASES / "content_categories.toml").open("rb") as file:
        return tomllib.load(file)


def cases() -> list[ContentCase]:
    labelled = _labelled()
    with (CASES / "negatives.toml").open("rb") as file:
        ip_ordinary = tomllib.load(file)["ordinary"]
    negatives = labelled.pop("negatives")
    del labelled["short"]
    found = [
        ContentCase(prompt=prompt, group=group, category=ContentCategory(category))
        for category, groups in labelled.items()
        for group, prompts in groups.items()
        for prompt in prompts
    ]
    return (
        found
        + [
            ContentCase(prompt=prompt, group=group, category=None)
            for group, prompts in negatives.items()
            for prompt in prompts
        ]
        + [ContentCase(prompt=prompt, group="ordinary", category=None) for prompt in ip_ordinary]
    )


def short_cases() -> list[ContentCase]:
    """The prompts of one to three words: ordinary ones and near misses, and those of a
    category (group "explicit": a prompt that short says what it means)."""
    return [
        ContentCase(
            prompt=prompt,
            group=group if group in NEGATIVE else "explicit",
            category=None if group in NEGATIVE else ContentCategory(group),
        )
        for group, prompts in _labelled()["short"].items()
        for prompt in prompts
    ]


def naming_an_asset(cases: Iterable[ContentCase]) -> dict[ContentCase, tuple[int, int]]:
    """Each case with its prompt after the name or the @handle of one of the IP set's
    registered assets (in turn), and where that name is."""
    names = [
        name for asset in registered_assets() for name in (asset["name"], f"@{asset['handle']}")
    ]
    named = {}
    for number, case in enumerate(cases):
        name = names[number % len(names)]
        prompt = f"{name} {case.prompt}".rstrip()
        named[ContentCase(prompt, case.group, case.category)] = (0, len(name))
    return named


def rates(
    cases: Iterable[ContentCase], categories_of: Callable[[str], set[ContentCategory]]
) -> dict[str, dict]:
    """Per category and group of positives: how many prompts, the share found (the category
    among those detected) and the share where another category was detected as well; per
    group of negatives: the share flagged (anything detected)."""
    tally: dict[tuple[str, str], list[int]] = {}
    for case in cases:
        detected = categories_of(case.prompt)
        hit = case.category in detected if case.category else bool(detected)
        key = (case.category.value if case.category else "none", case.group)
        counts = tally.setdefault(key, [0, 0, 0])
        counts[0] += 1
        counts[1] += hit
        counts[2] += bool(detected - {case.category})
    report: dict[str, dict] = {}
    for (category, group), (total, hits, others) in sorted(tally.items()):
        if group in POSITIVE:
            result = {"found": round(hits / total, 4), "also_other": round(others / total, 4)}
        else:
            result = {"flagged": round(hits / total, 4)}
        report.setdefault(category, {})[group] = {"prompts": total, **result}
    return report


def misses_targets(report: dict[str, dict]) -> list[str]:
    """What falls short of the targets, as "violence euphemistic 0.75 < 0.8"; empty if none."""
    short = []
    for category, groups in report.items():
        for group, result in groups.items():
            if group in FOUND_AT_LEAST and result["found"] < FOUND_AT_LEAST[group]:
                short.append(f"{category} {group} {result['found']} < {FOUND_AT_LEAST[group]}")
            if group in FLAGGED_AT_MOST and result["flagged"] > FLAGGED_AT_MOST[group]:
                short.append(f"{category} {group} {result['flagged']} > {FLAGGED_AT_MOST[group]}")
    return short
