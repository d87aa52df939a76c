"""The open quote: every line shown, integer minor units, one currency, deterministic."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_facts import OPEN, asset, decide, request

from licensing.errors import QuoteRefusal, QuoteRefused
from licensing.quote import (
    PUBLISHED_RATE_CARD,
    GenerationParameters,
    LineItem,
    quote,
)
from policies.document import MAX_MINOR_UNITS
from rights.models import AssetKind

FIVE_SECONDS_720P = GenerationParameters(duration_ms=5000, width=1280, height=720, steps=30)


def _priced(*, per_use: int = 0, per_second: int = 0, currency: str = "USD", **kwargs):
    price = {"currency": currency, "per_use_minor": per_use, "per_second_minor": per_second}
    return asset(document={**OPEN, "price": price}, **kwargs)


def test_a_quote_shows_compute_and_each_allowed_assets_fee_line_by_line():
    character = _priced(per_use=250, per_second=10)
    style = _priced(per_use=0, per_second=3, kind=AssetKind.style)
    priced = quote(FIVE_SECONDS_720P, decision=decide(request(), character, style))
    assert priced.currency == "USD" and priced.rate_card_version == PUBLISHED_RATE_CARD.version
    rows = [
        (line.item, line.quantity, line.unit, line.unit_price_minor, line.amount_minor)
        for line in priced.lines
    ]
    fees = {
        character.handle: [
            (LineItem.licence_per_use, 1, "use", 250, 250),
            (LineItem.licence_per_second, 5, "second", 10, 50),
        ],
        style.handle: [
            (LineItem.licence_per_use, 1, "use", 0, 0),
            (LineItem.licence_per_second, 5, "second", 3, 15),
        ],
    }
    by_handle = [row for handle in sorted(fees) for row in fees[handle]]
    assert rows == [(LineItem.compute, 150, "second-step", 2, 300), *by_handle]
    assert priced.lines[0].description == "Compute: 1280x720 (720p), 5 s billed x 30 steps"
    assert f"Licence of character @{character.handle}, per use" in [
        line.description for line in priced.lines
    ]
    assert priced.total_minor == 300 + 250 + 50 + 0 + 15


def test_a_started_second_is_billed_as_a_whole_one():
    for duration_ms, billed in ((1, 1), (1000, 1), (1001, 2), (2999, 3), (3000, 3)):
        parameters = GenerationParameters(duration_ms=duration_ms, width=640, height=480, steps=10)
        priced = quote(parameters, decision=decide(request(), _priced(per_second=7)))
        compute, _per_use, per_second = priced.lines
        assert compute.quantity == billed * 10 and per_second.quantity == billed
        assert priced.total_minor == billed * 10 * 1 + billed * 7


def test_the_resolution_tier_is_the_first_the_frame_fits_in():
    cases = [
        ((854, 480), "480p"),
        ((855, 480), "720p"),
        ((720, 1280), "720p"),
        ((1920, 1080), "1080p"),
        ((3840, 2160), "2160p"),
    ]
    for (width, height), tier in cases:
        parameters = GenerationParameters(duration_ms=1000, width=width, height=height, steps=1)
        assert f"({tier})" in quote(parameters, decision=decide(request())).lines[0].description
    too_large = GenerationParameters(duration_ms=1000, width=3841, height=2160, steps=1)
    with pytest.raises(QuoteRefused) as refused:
        quote(too_large, decision=decide(request()))
    assert refused.value.code == QuoteRefusal.resolution_too_large
    assert "prices frames up to 8294400 (2160p)" in refused.value.detail


def test_only_allowed_assets_are_priced():
    allowed = _priced(per_use=100)
    denied = asset(document=None)
    waiting = asset(document={**OPEN, "approval_required": True, "price": {"per_use_minor": 900}})
    priced = quote(FIVE_SECONDS_720P, decision=decide(request(), allowed, denied, waiting))
    assert {line.asset_id for line in priced.lines[1:]} == {allowed.id}


def test_an_asset_priced_in_another_currency_refuses_the_quote_without_converting():
    euro = _priced(per_use=100, currency="EUR")
    with pytest.raises(QuoteRefused) as refused:
        quote(FIVE_SECONDS_720P, decision=decide(request(), _priced(per_use=5), euro))
    assert refused.value.code == QuoteRefusal.currency_mismatch
    assert refused.value.detail == (
        f"@{euro.handle} is priced in EUR and this quote is in USD; Clearhouse does not "
        "convert currencies, so it cannot be licensed in this quote."
    )


@pytest.mark.parametrize("field", ["duration_ms", "width", "height", "steps"])
@pytest.mark.parametrize("value", [0, -5, 2.5, True])
def test_parameters_that_are_not_whole_positive_numbers_are_refused(field, value):
    parameters = {"duration_ms": 1000, "width": 640, "height": 480, "steps": 10, field: value}
    with pytest.raises(QuoteRefused) as refused:
        quote(GenerationParameters(**parameters), decision=decide(request()))
    assert refused.value.code == QuoteRefusal.invalid_parameters
    assert refused.value.detail.startswith(f"{field} must be a whole number of at least 1")


def test_a_total_beyond_what_one_quote_may_hold_is_refused():
    dear = _priced(per_second=MAX_MINOR_UNITS)
    with pytest.raises(QuoteRefused) as refused:
        quote(FIVE_SECONDS_720P, decision=decide(request(), dear))
    assert refused.value.code == QuoteRefusal.total_too_large


prices = st.tuples(st.integers(0, 10**6), st.integers(0, 10**5))
parameters = st.builds(
    GenerationParameters,
    duration_ms=st.integers(1, 120_000),
    width=st.integers(1, 3840),
    height=st.integers(1, 2160),
    steps=st.integers(1, 200),
)


@settings(max_examples=100, deadline=None)
@given(parameters, st.lists(prices, max_size=5), st.randoms(use_true_random=False))
def test_the_total_is_the_sum_of_its_lines_never_negative_and_the_same_every_time(
    params, fees, shuffle
):
    assets = [_priced(per_use=per_use, per_second=per_second) for per_use, per_second in fees]
    the_request = request()
    priced = quote(params, decision=decide(the_request, *assets))
    assert priced.total_minor == sum(line.amount_minor for line in priced.lines) >= 0
    for line in priced.lines:
        assert isinstance(line.amount_minor, int) and line.amount_minor >= 0
        assert line.amount_minor == line.quantity * line.unit_price_minor
    # The price from first principles: whole seconds rounded up, the tier's price per step.
    seconds = -(-params.duration_ms // 1000)
    tier = next(
        t for t in PUBLISHED_RATE_CARD.tiers if params.width * params.height <= t.max_pixels
    )
    expected = seconds * params.steps * tier.minor_per_second_step + sum(
        per_use + per_second * seconds for per_use, per_second in fees
    )
    assert priced.total_minor == expected
    # Deterministic, whatever order the scan found the assets in.
    shuffled = shuffle.sample(assets, len(assets))
    assert quote(params, decision=decide(the_request, *shuffled)) == priced
