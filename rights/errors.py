"""Errors of the rights registry."""

from clearhouse.errors import Conflict, Forbidden


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


class ConsentIsTheHolders(Forbidden):
    """Consent to use a likeness is the person's: their agent may re-price what they consented
    to, never let anyone new use the face."""

    slug = "consent-is-the-holders"
    title = "Only the holder can consent to this"


class NotAllowed(Forbidden):
    """The caller sees the object (a member, an agent) but their role does not allow this."""

    slug = "role-does-not-allow"
    title = "Your role does not allow this"


class LikenessOfDeceased(Conflict):
    slug = "likeness-of-deceased"
    title = "Reported as a deceased person's likeness"
