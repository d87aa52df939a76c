"""What the policy evaluator answers: a decision per matched asset and one for the request.

Every decision carries reasons, each a machine-readable code and a sentence for a person.
The full reasons are for the asset's owner and the audit log; the requester sees
:attr:`AssetDecision.requester_reasons`, which says nothing about a face they were not
granted (ARCHITECTURE: "no face search for strangers").
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from policies.document import Price
from rights.models import AssetKind


class AssetOutcome(StrEnum):
    allow = "allow"
    deny = "deny"
    needs_approval = "needs_approval"


class ClearanceOutcome(StrEnum):
    cleared = "cleared"
    denied = "denied"
    needs_approval = "needs_approval"


class ReasonCode(StrEnum):
    # An asset allowed
    allowed = "allowed"
    owner_approved = "owner_approved"
    # An asset waiting for its owner
    approval_required = "approval_required"
    # An asset that would wait for its owner, in a request refused for other reasons: the owner
    # is not asked, since their yes could not clear it
    approval_not_asked = "approval_not_asked"
    # An asset denied
    no_grant = "no_grant"
    grant_revoked = "grant_revoked"
    grant_inconsistent = "grant_inconsistent"
    policy_expired = "policy_expired"
    audience_nobody = "audience_nobody"
    not_listed = "not_listed"
    use_not_allowed = "use_not_allowed"
    content_excluded = "content_excluded"
    restriction_broken = "restriction_broken"
    daily_limit_reached = "daily_limit_reached"
    total_limit_reached = "total_limit_reached"
    minors_not_admitted = "minors_not_admitted"
    minors_likeness_protected = "minors_likeness_protected"
    deceased_without_estate = "deceased_without_estate"
    dispute_upheld = "dispute_upheld"
    owner_declined = "owner_declined"
    earlier_request_waiting = "earlier_request_waiting"
    # What the requester is told about a face they hold no grant for
    not_consented = "not_consented"
    # Found in a generated output, and not among what its clearance allowed
    not_covered = "not_covered"
    # The request as a whole denied
    age_unknown = "age_unknown"
    protected_not_licensed = "protected_not_licensed"
    minor_daily_limit_reached = "minor_daily_limit_reached"


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    text: str


NOT_CONSENTED = Reason(
    ReasonCode.not_consented, "The request shows a registered person who has not consented."
)


@dataclass(frozen=True, slots=True)
class AssetDecision:
    """One matched asset's outcome and why; the grant and policy version it rests on."""

    asset_id: uuid.UUID
    kind: AssetKind
    handle: str
    outcome: AssetOutcome
    reasons: tuple[Reason, ...]
    grant_id: uuid.UUID | None
    """The grant the outcome rests on: for an allow, the consent relied on."""
    policy_version_id: uuid.UUID | None
    price: Price | None
    """The fee under that policy version, when it allows or waits for approval."""
    disclosed: bool
    """Whether the requester may learn which asset this is: always for characters and
    styles; for a likeness, only if its owner consented to this requester's use of it."""

    @property
    def requester_reasons(self) -> tuple[Reason, ...]:
        return self.reasons if self.disclosed else (NOT_CONSENTED,)


@dataclass(frozen=True, slots=True)
class ReliedGrant:
    """A consent an allowed asset relies on: what a clearance token and a release re-check."""

    asset_id: uuid.UUID
    grant_id: uuid.UUID
    policy_version_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Decision:
    """The request's outcome: cleared only when every matched asset allows."""

    outcome: ClearanceOutcome
    assets: tuple[AssetDecision, ...]
    request_reasons: tuple[Reason, ...]
    """Reasons about the requester that deny the whole request, whatever the assets say."""
    decided_at: datetime

    @property
    def relied_on(self) -> tuple[ReliedGrant, ...]:
        return tuple(
            ReliedGrant(asset.asset_id, asset.grant_id, asset.policy_version_id)
            for asset in self.assets
            if asset.outcome == AssetOutcome.allow
        )
