"""Errors of the rights registry."""

from clearhouse.errors import Conflict


class HandleTaken(Conflict):
    slug = "handle-taken"
    title = "Handle already taken"


class GrantRevoked(Conflict):
    slug = "grant-revoked"
    title = "Grant already revoked"


class NothingToGrant(Conflict):
    slug = "nothing-to-grant"
    title = "The policy admits nobody"
