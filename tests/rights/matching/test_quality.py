"""How good the IP text check is, on the held-out half of the quality set (tests/ip_quality.py):
disguised names >= 99% found, paraphrases >= 98%, keyword lists and name-free descriptions
>= 90%; ordinary prompts <= 1% flagged, generic near misses <= 10%, descriptions of characters
nobody registered attributed to a registered one <= 25%. The thresholds were chosen on the
development half; bench/clearance.py prints both halves, and the same against 10,000 assets."""

import ip_quality
import pytest

from rights.matching.encoder import SentenceEncoder

CASES = ip_quality.cases()


@pytest.fixture(scope="module")
def matched_handles():
    return ip_quality.matcher_of_the_set_alone(SentenceEncoder())


@pytest.fixture(scope="module")
def held_out_rates(matched_handles):
    held_out = [case for case in CASES if case.split == ip_quality.HELD_OUT]
    return ip_quality.rates(held_out, matched_handles)


def test_no_prompt_of_the_set_is_one_of_the_owners_example_prompts():
    examples = {
        prompt.casefold()
        for body in ip_quality.registered_assets()
        for prompt in body["example_prompts"]
    }
    assert not [case.prompt for case in CASES if case.prompt.casefold() in examples]


def test_every_positive_names_a_registered_asset_and_both_splits_are_sizeable():
    handles = {body["handle"] for body in ip_quality.registered_assets()}
    assert {case.handle for case in CASES if case.handle} <= handles
    for category in ip_quality.POSITIVE + ip_quality.NEGATIVE:
        in_category = [case for case in CASES if case.category == category]
        held_out = [case for case in in_category if case.split == ip_quality.HELD_OUT]
        assert len(in_category) >= 70
        assert 0.35 <= len(held_out) / len(in_category) <= 0.65


@pytest.mark.parametrize("category", ip_quality.POSITIVE)
def test_held_out_positives_are_found_at_the_target_rate(held_out_rates, category):
    assert held_out_rates[category]["found"] >= ip_quality.FOUND_AT_LEAST[category], held_out_rates


@pytest.mark.parametrize("category", ip_quality.NEGATIVE)
def test_held_out_negatives_are_flagged_at_most_at_the_target_rate(held_out_rates, category):
    assert held_out_rates[category]["flagged"] <= ip_quality.FLAGGED_AT_MOST[category], (
        held_out_rates
    )
