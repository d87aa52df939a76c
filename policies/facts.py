"""What the policy evaluator decides on: plain, immutable values, no database session.

Clearance reads them in one query (the matched assets, their grants with the policy version
each binds, the owners' dates of birth, usage counts, the owners' answers to the requester and
the requester's requests still waiting for them) and hands them to
:func:`policies.evaluator.evaluate`, so the decision is a pure function of what was read,
repeatable in tests and fast enough to run on every request.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from policies.document import ContentCategory, PolicyDocument, Use
from rights.models import AssetKind, GrantStatus


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for the generation."""

    account_id: uuid.UUID
    date_of_birth: date | None
    generations_today: int
    """Generations this account was cleared for since 00:00 UTC of the decision's day: the
    daily limit of requesters under 18 counts them."""


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """The request as the policies judge it."""

    requester: Requester
    digest: str
    """:func:`licensing.digest.request_digest` of the request: owner approvals name it."""
    declared_use: Use
    content_categories: frozenset[ContentCategory]
    """What the request shows: the categories its requester declared and those the content
    check found in its prompt."""
    content_found: Mapping[ContentCategory, str] = field(default_factory=dict)
    """How the content check found each category it found, for a person: "it says
    “beheaded”"; a category only declared has none."""
    protected_found: tuple[tuple[str, str], ...] = ()
    """(kind, name) of each protected entry (rights/protected/) the prompt touches: nobody
    holds its rights here, so nothing can license it."""
    restrictions_broken: Mapping[str, str] = field(default_factory=dict)
    """The owners' restrictions (as written in a policy's ``restrictions``) the restriction
    check read this prompt as breaking, each with how: "it reads like “drinking alcohol”".
    Only the restrictions of the policies of the assets it touches were read."""


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """One stored policy version (:class:`policies.models.PolicyVersion`), parsed."""

    id: uuid.UUID
    asset_id: uuid.UUID
    version: int
    document: PolicyDocument


@dataclass(frozen=True, slots=True)
class GrantSnapshot:
    """One consent grant and the policy version it consents to (None: not found)."""

    id: uuid.UUID
    asset_id: uuid.UUID
    policy_version_id: uuid.UUID
    status: GrantStatus
    revoked_at: datetime | None
    policy: PolicySnapshot | None

    def is_revoked(self) -> bool:
        # Either mark is enough: a half-written revocation still revokes.
        return self.status != GrantStatus.active or self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class AssetUsage:
    """Licensed uses of an asset by anyone, as the policy's daily and total limits count."""

    today: int
    """Since 00:00 UTC of the decision's day."""
    total: int


@dataclass(frozen=True, slots=True)
class MatchedAsset:
    """A registered asset the request touches, with everything its decision needs."""

    id: uuid.UUID
    kind: AssetKind
    handle: str
    owner_id: uuid.UUID
    owner_date_of_birth: date | None
    grants: tuple[GrantSnapshot, ...]
    """Its grants; revoked ones may be left out or included, they never allow."""
    usage: AssetUsage
    deceased_without_estate: bool = False
    """A likeness reported as a deceased person's whose estate no moderator has verified:
    never usable, whatever its grants say."""
    disputed: bool = False
    """Staff upheld a dispute about it (rights/disputes/): never usable, whatever its grants
    say."""


@dataclass(frozen=True, slots=True)
class OwnerApproval:
    """The owner's yes to one use: this requester, this asset, this exact request."""

    asset_id: uuid.UUID
    requester_id: uuid.UUID
    request_digest: str
    expires_at: datetime

    def covers(self, *, asset_id: uuid.UUID, request: GenerationRequest, now: datetime) -> bool:
        return (
            self.asset_id == asset_id
            and self.requester_id == request.requester.account_id
            and self.request_digest == request.digest
            and now < self.expires_at
        )


@dataclass(frozen=True, slots=True)
class OwnerDecline:
    """The owner's no to this requester for one asset, under the policy version the declined
    request was decided under: until it ends, the owner is not asked again under that version.
    A new version the owner consents to, or their yes to the declined request, ends it."""

    asset_id: uuid.UUID
    requester_id: uuid.UUID
    policy_version_id: uuid.UUID
    declined_at: datetime
    stands_until: datetime

    def stands(
        self,
        *,
        asset_id: uuid.UUID,
        requester_id: uuid.UUID,
        policy_version_id: uuid.UUID,
        now: datetime,
    ) -> bool:
        return (
            self.asset_id == asset_id
            and self.requester_id == requester_id
            and self.policy_version_id == policy_version_id
            and now < self.stands_until
        )


@dataclass(frozen=True, slots=True)
class WaitingRequest:
    """A request of this requester's that waits for the owner's answer about one asset. The
    owner is asked one request of a requester's at a time for each asset: until this one is
    answered or expires, another of theirs is not sent to the owner."""

    asset_id: uuid.UUID
    requester_id: uuid.UUID
    request_digest: str
    clearance_id: uuid.UUID
    """The clearance that asked it: the requester's own, which they may read back."""
    expires_at: datetime

    def waits(self, *, asset_id: uuid.UUID, requester_id: uuid.UUID, now: datetime) -> bool:
        return (
            self.asset_id == asset_id
            and self.requester_id == requester_id
            and now < self.expires_at
        )
