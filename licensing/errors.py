"""Errors of quotes and clearance tokens."""

from enum import StrEnum

from clearhouse.errors import Conflict, Forbidden, InvalidRequest


class QuoteRefusal(StrEnum):
    invalid_parameters = "invalid_parameters"
    resolution_too_large = "resolution_too_large"
    currency_mismatch = "currency_mismatch"
    total_too_large = "total_too_large"


class QuoteRefused(InvalidRequest):
    """A request that cannot be priced as asked; ``code`` says why to a program."""

    slug = "quote-refused"
    title = "The request cannot be priced"

    def __init__(self, code: QuoteRefusal, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class RequestNotDigestible(InvalidRequest):
    """A request whose parameters have no single canonical JSON form (licensing/digest.py)."""

    slug = "request-not-digestible"
    title = "The request has no canonical digest"


class ClearanceRefusal(StrEnum):
    malformed = "malformed"
    algorithm_not_allowed = "algorithm_not_allowed"
    header_refused = "header_refused"
    wrong_type = "wrong_type"
    unknown_key = "unknown_key"
    bad_signature = "bad_signature"
    expired = "expired"
    claims_rejected = "claims_rejected"
    other_request = "other_request"


class ClearanceTokenRefused(Forbidden):
    """A clearance token that does not let this request run; ``reason`` says which check."""

    slug = "clearance-token-refused"
    title = "Clearance token refused"

    def __init__(self, reason: ClearanceRefusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class ApprovalClosed(Conflict):
    """An approval already answered, or expired before its owner answered."""

    slug = "approval-closed"
    title = "This request was answered or expired"


class ClearanceNotCleared(Conflict):
    """An output check of a clearance that was denied or still waits for an owner."""

    slug = "clearance-not-cleared"
    title = "This clearance was not cleared"
