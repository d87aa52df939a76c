"""Errors of claims."""

from clearhouse.errors import Conflict, InvalidRequest


class NotClaimable(InvalidRequest):
    slug = "not-claimable"
    title = "A likeness needs no claim"


class ClaimAlreadyVerified(Conflict):
    slug = "claim-already-verified"
    title = "Claim verified already"


class ClaimAlreadyDecided(Conflict):
    slug = "claim-already-decided"
    title = "Claim decided already"


class PartyToClaim(Conflict):
    slug = "party-to-claim"
    title = "You cannot decide your own claim"


class UnusableEvidence(InvalidRequest):
    slug = "unusable-evidence"
    title = "Evidence refused"
