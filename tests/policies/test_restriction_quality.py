"""How well the restriction check reads owners' restrictions, on the held-out half of its
evaluation set (tests/restriction_quality.py); ``unusual`` was chosen on the tuning half.

The issue asks for breaking prompts denied >= 90% and respecting ones <= 3%. The sentence
model alone (no NLI or cross-encoder model is installed, and nothing may download) does not
get there: measured on the held-out half, 60% of breaking prompts are denied and 1.6% of
respecting ones (2 of 129), which meets the second target and not the first. These tests
hold it to what it measured, so that a change that reads restrictions worse fails, and
bench/clearance.py prints both halves."""

import pytest
import restriction_quality

from rights.matching.content_check import ContentCheck
from rights.matching.encoder import SentenceEncoder
from rights.matching.restrictions import RestrictionCheck

# Measured on the held-out half with the threshold chosen on the tuning half (see the module):
# 0.60 and 0.016. The floor leaves room for the int8 graph's small differences between
# machines (it is built where it runs); the ceiling is the target.
HELD_OUT_BREAKING_DENIED_AT_LEAST = 0.58
HELD_OUT_RESPECTING_DENIED_AT_MOST = restriction_quality.RESPECTING_DENIED_AT_MOST


@pytest.fixture(scope="module")
def measured() -> dict:
    encoder = SentenceEncoder()
    check = RestrictionCheck(encoder=encoder, content=ContentCheck(encoder=encoder))
    return restriction_quality.measure(check)


def test_the_set_is_sizeable_and_both_splits_hold_both_kinds_of_prompt():
    cases = restriction_quality.cases()
    assert len(restriction_quality.restrictions()) >= 20
    for breaks in (True, False):
        group = [case for case in cases if case.breaks is breaks]
        held_out = [case for case in group if case.split == restriction_quality.HELD_OUT]
        assert len(group) >= 200
        assert 0.4 <= len(held_out) / len(group) <= 0.6


def test_the_threshold_denies_at_most_3_percent_of_the_tuning_halfs_respecting_prompts(measured):
    respecting = measured[restriction_quality.TUNING]["respecting"]["denied"]
    assert respecting <= restriction_quality.RESPECTING_DENIED_AT_MOST, measured


def test_held_out_breaking_prompts_are_denied_at_the_measured_rate(measured):
    breaking = measured[restriction_quality.HELD_OUT]["breaking"]["denied"]
    assert breaking >= HELD_OUT_BREAKING_DENIED_AT_LEAST, measured


def test_held_out_respecting_prompts_are_denied_at_most_3_percent(measured):
    respecting = measured[restriction_quality.HELD_OUT]["respecting"]["denied"]
    assert respecting <= HELD_OUT_RESPECTING_DENIED_AT_MOST, measured
