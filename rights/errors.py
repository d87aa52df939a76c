"""Errors of the rights registry."""

from clearhouse.errors import Conflict


class HandleTaken(Conflict):
    slug = "handle-taken"
    title = "Handle already taken"


class GrantRevoked(Conflict):
    slug = "grant-revoked"
    title = "Grant already revoked"


class AssetNotActive(Conflict):
    slug = "asset-not-active"
    title = "The asset is in review or inactive"


class PartyToCase(Conflict):
    slug = "party-to-overlap-case"
    title = "You are a party to this case"


class CaseAlreadyDecided(Conflict):
    slug = "overlap-case-decided"
    title = "The overlap case was decided already"


class NothingToGrant(Conflict):
    slug = "nothing-to-grant"
    title = "The policy admits nobody"
