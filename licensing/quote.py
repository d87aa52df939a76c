"""The open quote: what a cleared request costs, every line shown, in integer minor units.

Compute is priced from a published rate card (:data:`PUBLISHED_RATE_CARD`, to be served as
it stands by the API): billed seconds x denoising steps x the price of the request's
resolution tier. Each allowed asset adds its owner's fee from the policy version relied on:
its price per use, plus its price per second x billed seconds.

One rounding rule, stated once: a duration is billed in whole seconds, rounded up (2.1 s is
billed as 3 s). Every other step multiplies integers, so a line's amount is exactly its
quantity x its unit price and the total exactly the sum of its lines; nothing is a float.
One currency per quote: an asset priced in another currency refuses the quote rather than
converting at some rate nobody agreed to.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from licensing.errors import QuoteRefusal, QuoteRefused
from policies.decisions import AssetDecision, AssetOutcome, Decision
from policies.document import MAX_MINOR_UNITS, Price
from rights.models import AssetKind


@dataclass(frozen=True, slots=True)
class ResolutionTier:
    """Frames up to ``max_pixels`` (width x height), at one price per second-step."""

    name: str
    max_pixels: int
    minor_per_second_step: int


@dataclass(frozen=True, slots=True)
class RateCard:
    """The compute prices in force; ``version`` is named on every quote made from it."""

    version: str
    currency: str
    tiers: tuple[ResolutionTier, ...]
    """From the smallest frame up; a request takes the first tier its frame fits in."""

    def tier_for(self, pixels: int) -> ResolutionTier | None:
        return next((tier for tier in self.tiers if pixels <= tier.max_pixels), None)


PUBLISHED_RATE_CARD = RateCard(
    version="2026-06",
    currency="USD",
    tiers=(
        ResolutionTier("480p", max_pixels=854 * 480, minor_per_second_step=1),
        ResolutionTier("720p", max_pixels=1280 * 720, minor_per_second_step=2),
        ResolutionTier("1080p", max_pixels=1920 * 1080, minor_per_second_step=4),
        ResolutionTier("2160p", max_pixels=3840 * 2160, minor_per_second_step=16),
    ),
)
"""The rate card in force. A change is a new version, never an edit of this one."""


@dataclass(frozen=True, slots=True)
class GenerationParameters:
    """What the compute price depends on."""

    duration_ms: int
    width: int
    height: int
    steps: int

    @property
    def billed_seconds(self) -> int:
        return -(-self.duration_ms // 1000)


class LineItem(StrEnum):
    compute = "compute"
    licence_per_use = "licence_per_use"
    licence_per_second = "licence_per_second"


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """One line: ``amount_minor`` is exactly ``quantity`` x ``unit_price_minor``."""

    item: LineItem
    description: str
    quantity: int
    unit: str
    unit_price_minor: int
    amount_minor: int
    asset_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    currency: str
    rate_card_version: str
    lines: tuple[QuoteLine, ...]
    total_minor: int


def quote(
    parameters: GenerationParameters,
    *,
    decision: Decision,
    rate_card: RateCard = PUBLISHED_RATE_CARD,
) -> Quote:
    """The price of generating with ``parameters`` and every asset ``decision`` allows.

    The same inputs give the same quote, line for line; assets are listed by handle, so
    the order a scan found them in does not matter. Raises :class:`QuoteRefused`.
    """
    _check(parameters)
    pixels = parameters.width * parameters.height
    tier = rate_card.tier_for(pixels)
    if tier is None:
        largest = rate_card.tiers[-1]
        raise QuoteRefused(
            QuoteRefusal.resolution_too_large,
            f"{parameters.width}x{parameters.height} is {pixels} pixels a frame; the rate card "
            f"prices frames up to {largest.max_pixels} ({largest.name}): ask for a smaller one.",
        )
    seconds = parameters.billed_seconds
    lines = [
        _line(
            LineItem.compute,
            f"Compute: {parameters.width}x{parameters.height} ({tier.name}), {seconds} s billed "
            f"x {parameters.steps} steps",
            quantity=seconds * parameters.steps,
            unit="second-step",
            unit_price_minor=tier.minor_per_second_step,
        )
    ]
    allowed = [asset for asset in decision.assets if asset.outcome == AssetOutcome.allow]
    for asset in sorted(allowed, key=lambda asset: (asset.handle, str(asset.asset_id))):
        lines.extend(_licence_lines(asset, seconds=seconds, currency=rate_card.currency))
    total = sum(line.amount_minor for line in lines)
    if total > MAX_MINOR_UNITS:
        raise QuoteRefused(
            QuoteRefusal.total_too_large,
            f"This request would cost {total} minor units of {rate_card.currency}, more than "
            f"one quote may ({MAX_MINOR_UNITS}): ask for less.",
        )
    return Quote(
        currency=rate_card.currency,
        rate_card_version=rate_card.version,
        lines=tuple(lines),
        total_minor=total,
    )


def _check(parameters: GenerationParameters) -> None:
    for name in ("duration_ms", "width", "height", "steps"):
        value = getattr(parameters, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise QuoteRefused(
                QuoteRefusal.invalid_parameters,
                f"{name} must be a whole number of at least 1, not {value!r}.",
            )


def _licence_lines(asset: AssetDecision, *, seconds: int, currency: str) -> list[QuoteLine]:
    return licence_lines(
        asset_id=asset.asset_id,
        kind=asset.kind,
        handle=asset.handle,
        price=asset.price,
        seconds=seconds,
        currency=currency,
    )


def licence_lines(
    *,
    asset_id: uuid.UUID,
    kind: AssetKind,
    handle: str,
    price: Price,
    seconds: int,
    currency: str,
) -> list[QuoteLine]:
    """One asset's lines of a quote in ``currency``: its price per use, and per second x
    ``seconds`` billed. Also what a licence offered for a blocked output costs
    (licensing/offers/). Raises :class:`QuoteRefused` for a price in another currency."""
    if price.currency != currency:
        raise QuoteRefused(
            QuoteRefusal.currency_mismatch,
            f"@{handle} is priced in {price.currency} and this quote is in {currency}; "
            "Clearhouse does not convert currencies, so it cannot be licensed in this quote.",
        )
    subject = f"Licence of {kind.value} @{handle}"
    return [
        _line(
            LineItem.licence_per_use,
            f"{subject}, per use",
            quantity=1,
            unit="use",
            unit_price_minor=price.per_use_minor,
            asset_id=asset_id,
        ),
        _line(
            LineItem.licence_per_second,
            f"{subject}, per second",
            quantity=seconds,
            unit="second",
            unit_price_minor=price.per_second_minor,
            asset_id=asset_id,
        ),
    ]


def _line(
    item: LineItem,
    description: str,
    *,
    quantity: int,
    unit: str,
    unit_price_minor: int,
    asset_id: uuid.UUID | None = None,
) -> QuoteLine:
    return QuoteLine(
        item=item,
        description=description,
        quantity=quantity,
        unit=unit,
        unit_price_minor=unit_price_minor,
        amount_minor=quantity * unit_price_minor,
        asset_id=asset_id,
    )
