"""Errors of licence offers."""

from clearhouse.errors import Conflict


class NotOfferable(Conflict):
    """A licence that cannot be offered for this blocked use (yet, or at all)."""

    slug = "licence-not-offerable"
    title = "A licence cannot be offered for this use"


class OfferClosed(Conflict):
    """An offer declined, or expired before its creator answered."""

    slug = "licence-offer-closed"
    title = "This licence offer was declined or expired"


class OfferUnusable(Conflict):
    """An offer whose consent was withdrawn (or whose asset or output can no longer be
    licensed) since it was made."""

    slug = "licence-offer-unusable"
    title = "This licence offer can no longer be accepted"
