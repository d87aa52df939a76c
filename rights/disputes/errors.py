"""Errors of disputes."""

from clearhouse.errors import Conflict, Forbidden, InvalidRequest


class OwnAsset(InvalidRequest):
    slug = "dispute-own-asset"
    title = "You hold this asset"


class DisputeClosed(Conflict):
    slug = "dispute-closed"
    title = "The dispute was decided already"


class NotYourAnswer(Conflict):
    slug = "dispute-answer-refused"
    title = "This answer cannot be given"


class NotDecidable(Conflict):
    slug = "dispute-not-decidable"
    title = "The dispute cannot be decided yet"


class PartyToDispute(Forbidden):
    slug = "party-to-dispute"
    title = "You are a party to this dispute"
