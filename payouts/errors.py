"""Errors of the ledger.

An unbalanced entry or an idempotency key reused for other legs is a bug in the code that
posts, never a caller's mistake: those are plain exceptions (an unexpected 500). What an
operator or a later request can meet is a :class:`ClearhouseError`.
"""

from clearhouse.errors import ClearhouseError, Conflict, InvalidParameters


class UnbalancedEntry(ValueError):
    """An entry whose legs do not balance per currency, or a malformed leg; nothing was
    written."""


class IdempotencyConflict(ValueError):
    """An idempotency key already posted with other legs: two events were given one key."""


class NotReversible(Conflict):
    slug = "not-reversible"
    title = "This entry cannot be reversed"


class InsufficientBalance(Conflict):
    slug = "insufficient-balance"
    title = "The account's balance is too low"


class InsufficientCredits(ClearhouseError):
    """A cleared request that costs more than the requester's wallet holds: nothing is
    recorded, nothing runs."""

    status_code = 402
    slug = "insufficient-credits"
    title = "Not enough credits"

    def __init__(self, *, balance_minor: int, needed_minor: int, currency: str) -> None:
        super().__init__(
            f"This request costs {needed_minor} {currency} minor units and your wallet holds "
            f"{balance_minor} (this month's free credits included). Buy credits "
            "(POST /v1/credits/purchases) and send the request again."
        )
        self.balance_minor = balance_minor
        self.needed_minor = needed_minor
        self.currency = currency

    def extensions(self) -> dict[str, int | str]:
        return {
            "balance_minor": self.balance_minor,
            "needed_minor": self.needed_minor,
            "currency": self.currency,
        }


class StripeOff(ClearhouseError):
    """Stripe is not configured here (no secret key, or no webhook secret): no card is charged,
    no connected account made, no webhook taken. The same answer for payments and payouts: a
    503, since it is the server's setup, not the caller's request, and an operator can turn it
    on; nothing was stored."""

    status_code = 503
    slug = "stripe-off"
    title = "Stripe is off on this server"


class WebhookRefused(ClearhouseError):
    """A webhook whose signature, body or timestamp does not verify: nothing was changed."""

    status_code = 400
    slug = "webhook-refused"
    title = "Webhook refused"


class StripeUnavailable(ClearhouseError):
    """Stripe refused or could not be reached; nothing was stored."""

    status_code = 502
    slug = "stripe-unavailable"
    title = "Stripe did not answer as expected"


class PayoutPeriodNotEnded(Conflict):
    """A payout run for a month that is not over yet (in UTC), or has not begun: a run pays
    what a month earned, so it waits for the month's end. Nothing was made, posted or sent."""

    slug = "payout-period-not-ended"
    title = "This month has not ended"


class StatementPeriodInvalid(InvalidParameters):
    slug = "statement-period-invalid"
    title = "No statement for this period"


class StatementCurrencyNeeded(InvalidParameters):
    slug = "statement-currency-needed"
    title = "Say which currency's statement"
