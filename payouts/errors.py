"""Errors of the ledger.

An unbalanced entry or an idempotency key reused for other legs is a bug in the code that
posts, never a caller's mistake: those are plain exceptions (an unexpected 500). What an
operator or a later request can meet is a :class:`ClearhouseError`.
"""

from clearhouse.errors import Conflict


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
