"""The restriction check's evaluation set (tests/policies/cases/restrictions.toml): owners'
restrictions in their own words, prompts that break each and prompts that respect it.

Each prompt falls into the tuning or the held-out split by a hash of its text
(`ip_quality.split_of`: its development half is the tuning split here), so nobody picks which
prompts the threshold was chosen on. The issue's targets: breaking prompts denied >= 90%,
respecting prompts denied <= 3%.

Used by tests/policies/test_restriction_quality.py and bench/clearance.py.
"""

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ip_quality import DEVELOPMENT, HELD_OUT, split_of

CASES = Path(__file__).parent / "policies" / "cases" / "restrictions.toml"
TUNING = DEVELOPMENT
SPLITS = (HELD_OUT, TUNING)
BREAKING_DENIED_AT_LEAST = 0.90
RESPECTING_DENIED_AT_MOST = 0.03


@dataclass(frozen=True)
class RestrictionCase:
    restriction: str
    prompt: str
    breaks: bool

    @property
    def split(self) -> str:
        return split_of(self.prompt)


def restrictions() -> list[str]:
    with CASES.open("rb") as file:
        return [entry["text"] for entry in tomllib.load(file)["restriction"]]


def cases() -> list[RestrictionCase]:
    with CASES.open("rb") as file:
        entries = tomllib.load(file)["restriction"]
    return [
        RestrictionCase(restriction=entry["text"], prompt=prompt, breaks=breaks)
        for entry in entries
        for breaks, group in ((True, "breaking"), (False, "respecting"))
        for prompt in entry[group]
    ]


def rates(cases: Iterable[RestrictionCase], denies: Callable[[RestrictionCase], bool]) -> dict:
    """How many breaking and respecting prompts, and the share of each denied."""
    tally = {True: [0, 0], False: [0, 0]}
    for case in cases:
        tally[case.breaks][0] += 1
        tally[case.breaks][1] += bool(denies(case))
    return {
        group: {"prompts": total, "denied": round(denied / total, 4) if total else None}
        for group, (total, denied) in (("breaking", tally[True]), ("respecting", tally[False]))
    }


def measure(check) -> dict[str, dict]:
    """The restriction check's rates on each split: a case is denied when the check reads its
    prompt as breaking its restriction (by itself, or through the content category it names).
    ``check``: a `rights.matching.restrictions.RestrictionCheck`."""
    from rights.matching.reading import read_prompt

    all_cases = cases()
    readings = {c.prompt: read_prompt(c.prompt, encoder=check.encoder) for c in all_cases}
    content = {p: check.content.find_in_reading(r) for p, r in readings.items()}

    def denies(case: RestrictionCase) -> bool:
        broken = check.broken(
            [case.restriction],
            embedding=readings[case.prompt].embedding,
            content=content[case.prompt],
        )
        return case.restriction in broken

    return {split: rates([c for c in all_cases if c.split == split], denies) for split in SPLITS}
