"""The policy evaluator: a pure function from a request and what it touches to a decision.

Default deny: an asset is allowed only through an active grant whose policy version admits
this requester, this use and this content, within its limits and before its expiry. Nothing
else allows — no grant, a revoked grant, a grant whose records disagree, a missing policy —
and the protections of minors and of likenesses hold whatever a policy says
(policies/protections.py). Each outcome says why, in words and in codes.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from clearhouse.accounts.models import ADULT_AGE, is_minor
from policies.decisions import (
    AssetDecision,
    AssetOutcome,
    ClearanceOutcome,
    Decision,
    Reason,
    ReasonCode,
)
from policies.document import Audience, PolicyDocument
from policies.facts import (
    GenerationRequest,
    GrantSnapshot,
    MatchedAsset,
    OwnerApproval,
    OwnerDecline,
    PolicySnapshot,
    Requester,
    WaitingRequest,
)
from policies.protections import excluded_content, is_minors_likeness
from rights.models import AssetKind


def evaluate(
    request: GenerationRequest,
    *,
    assets: Sequence[MatchedAsset],
    approvals: Sequence[OwnerApproval] = (),
    declines: Sequence[OwnerDecline] = (),
    waiting: Sequence[WaitingRequest] = (),
    now: datetime,
    minor_daily_generation_limit: int,
) -> Decision:
    """Decide ``request`` under the policies of every asset it touches, as of ``now``.

    Cleared only when the requester may generate at all and every matched asset allows; a
    request that touches no registered asset has nothing to deny. ``approvals``: the owners'
    approvals on record for this requester (expired ones do not count). ``declines``: the
    owners' declines of this requester still standing; an asset that would wait for an owner
    who declined this requester under the same policy version is denied instead. ``waiting``:
    this requester's requests that wait for the owners' answers; an asset that would wait for
    an owner who has another request of theirs to answer is denied instead (one at a time).
    A request denied anyway asks no owner: an asset that would wait for one says so, and that
    they were not asked (unless this very request waits for them already).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    today = now.astimezone(UTC).date()
    judge = _Judge(
        request=request,
        approvals=approvals,
        declines=declines,
        waiting=waiting,
        now=now,
        today=today,
    )
    decisions = tuple(judge.decide(asset) for asset in assets)
    request_reasons = _requester_reasons(
        request.requester, today=today, daily_limit=minor_daily_generation_limit
    ) + _protected_reasons(request)
    outcomes = {decision.outcome for decision in decisions}
    if request_reasons or AssetOutcome.deny in outcomes:
        outcome = ClearanceOutcome.denied
        decisions = tuple(judge.refused_anyway(decision) for decision in decisions)
    elif AssetOutcome.needs_approval in outcomes:
        outcome = ClearanceOutcome.needs_approval
    else:
        outcome = ClearanceOutcome.cleared
    return Decision(
        outcome=outcome, assets=decisions, request_reasons=request_reasons, decided_at=now
    )


def _protected_reasons(request: GenerationRequest) -> tuple[Reason, ...]:
    """A protected entry denies whatever else the request touches: nobody may consent."""
    return tuple(
        Reason(
            ReasonCode.protected_not_licensed,
            f"“{name}” is a protected {kind}: protected, not licensed. Nobody holds its "
            "rights on Clearhouse, so no use of it can be cleared; leave it out.",
        )
        for kind, name in request.protected_found
    )


def _requester_reasons(
    requester: Requester, *, today: date, daily_limit: int
) -> tuple[Reason, ...]:
    if requester.date_of_birth is None:
        return (
            Reason(
                ReasonCode.age_unknown,
                "Your date of birth is not on record, and the protections of minors depend "
                "on it: add it to your account.",
            ),
        )
    if is_minor(requester.date_of_birth, today) and requester.generations_today >= daily_limit:
        return (
            Reason(
                ReasonCode.minor_daily_limit_reached,
                f"Requesters under {ADULT_AGE} may generate {daily_limit} times a day, and you "
                "have today: try again after 00:00 UTC.",
            ),
        )
    return ()


@dataclass(frozen=True, slots=True)
class _Verdict:
    """One grant's answer for one asset."""

    outcome: AssetOutcome
    reasons: tuple[Reason, ...]
    grant: GrantSnapshot
    policy: PolicySnapshot | None

    def preference(self) -> tuple:
        """Allow before approval before deny; then an active grant, the newest policy version
        (the owner's latest consent) and, for a stable answer, the grant id."""
        version = self.policy.version if self.policy else 0
        rank = _RANK[self.outcome]
        return (rank, self.grant.is_revoked(), -version, str(self.grant.id))


_RANK = {AssetOutcome.allow: 0, AssetOutcome.needs_approval: 1, AssetOutcome.deny: 2}


@dataclass(frozen=True, slots=True)
class _Judge:
    """The rules, applied to each matched asset of one request."""

    request: GenerationRequest
    approvals: Sequence[OwnerApproval]
    declines: Sequence[OwnerDecline]
    waiting: Sequence[WaitingRequest]
    now: datetime
    today: date

    def decide(self, asset: MatchedAsset) -> AssetDecision:
        if asset.deceased_without_estate:
            reasons = (
                Reason(
                    ReasonCode.deceased_without_estate,
                    f"@{asset.handle} is reported as a deceased person's likeness, and no "
                    "estate's authority over it is verified: nobody may use it.",
                ),
            )
            return self._decision(asset, AssetOutcome.deny, reasons, None, None)
        if asset.disputed:
            reasons = (
                Reason(
                    ReasonCode.dispute_upheld,
                    f"Staff upheld a dispute about @{asset.handle}: it is no longer licensed.",
                ),
            )
            return self._decision(asset, AssetOutcome.deny, reasons, None, None)
        verdicts = [self._judge_grant(asset, grant) for grant in asset.grants]
        if not verdicts:
            reasons = (
                Reason(
                    ReasonCode.no_grant,
                    f"@{asset.handle}'s owner has not consented to any use, and nothing is "
                    "used without consent.",
                ),
            )
            return self._decision(asset, AssetOutcome.deny, reasons, None, None)
        best = min(verdicts, key=_Verdict.preference)
        return self._decision(asset, best.outcome, best.reasons, best.grant, best.policy)

    def _decision(
        self,
        asset: MatchedAsset,
        outcome: AssetOutcome,
        reasons: tuple[Reason, ...],
        grant: GrantSnapshot | None,
        policy: PolicySnapshot | None,
    ) -> AssetDecision:
        priced = policy is not None and outcome != AssetOutcome.deny
        return AssetDecision(
            asset_id=asset.id,
            kind=asset.kind,
            handle=asset.handle,
            outcome=outcome,
            reasons=reasons,
            grant_id=grant.id if grant else None,
            policy_version_id=policy.id if policy else None,
            price=policy.document.price if priced else None,
            disclosed=disclosed_to(
                asset, requester_id=self.request.requester.account_id, today=self.today
            ),
        )

    def _judge_grant(self, asset: MatchedAsset, grant: GrantSnapshot) -> _Verdict:
        handle = asset.handle
        if grant.is_revoked():
            reason = Reason(
                ReasonCode.grant_revoked, f"The owner of @{handle} withdrew this consent."
            )
            return _Verdict(AssetOutcome.deny, (reason,), grant, grant.policy)
        policy = grant.policy
        if not _consistent(asset, grant):
            reason = Reason(
                ReasonCode.grant_inconsistent,
                f"The records of @{handle}'s consent do not agree with each other, so it "
                "cannot be relied on.",
            )
            return _Verdict(AssetOutcome.deny, (reason,), grant, None)
        denials = self._denials(asset, policy.document)
        if denials:
            return _Verdict(AssetOutcome.deny, denials, grant, policy)
        allowed = Reason(
            ReasonCode.allowed,
            f"@{handle} may be used for {self.request.declared_use.value} use under its "
            f"owner's policy version {policy.version}.",
        )
        if not policy.document.approval_required or self._is_owner(asset):
            return _Verdict(AssetOutcome.allow, (allowed,), grant, policy)
        approval = self._approval(asset)
        if approval is not None:
            approved = Reason(
                ReasonCode.owner_approved,
                f"The owner of @{handle} approved this request, until "
                f"{approval.expires_at.isoformat()}.",
            )
            return _Verdict(AssetOutcome.allow, (allowed, approved), grant, policy)
        not_asked = self._not_asked(asset, policy)
        if not_asked is not None:
            return _Verdict(AssetOutcome.deny, (not_asked,), grant, policy)
        waits = Reason(
            ReasonCode.approval_required,
            f"The owner of @{handle} approves each use; this request waits for them.",
        )
        return _Verdict(AssetOutcome.needs_approval, (waits,), grant, policy)

    def refused_anyway(self, decided: AssetDecision) -> AssetDecision:
        """An asset that would wait for its owner, in a request refused for other reasons: the
        owner is not asked, since their yes could not clear it (and another request of this
        requester's would then be refused while this one waited). Unless this very request
        waits for them already: sent again unchanged, it waits as before."""
        if decided.outcome != AssetOutcome.needs_approval or self._waits_already(decided.asset_id):
            return decided
        not_asked = Reason(
            ReasonCode.approval_not_asked,
            f"The owner of @{decided.handle} approves each use, and was not asked about this "
            "request: it is refused for the other reasons given, so their yes could not clear "
            "it. Once those are resolved, send it again and they will be asked.",
        )
        return replace(decided, reasons=(not_asked,))

    def _not_asked(self, asset: MatchedAsset, policy: PolicySnapshot) -> Reason | None:
        """Why the owner is not asked about this request: their no to this requester stands
        under this version, or another request of this requester's waits for their answer."""
        handle = asset.handle
        declined = self._decline(asset, policy)
        if declined is not None:
            until = declined.stands_until.isoformat(timespec="seconds")
            return Reason(
                ReasonCode.owner_declined,
                f"The owner of @{handle} declined your request on "
                f"{declined.declined_at.date().isoformat()}: they are not asked again until "
                f"{until}, unless they change its policy.",
            )
        earlier = self._earlier_request(asset)
        if earlier is not None:
            until = earlier.expires_at.isoformat(timespec="seconds")
            return Reason(
                ReasonCode.earlier_request_waiting,
                f"Your request {earlier.clearance_id} still waits for the owner of @{handle}, "
                "who is asked one request of yours at a time, so this one was not sent to "
                f"them: send it again once they answer that one, or after {until}.",
            )
        return None

    def _denials(self, asset: MatchedAsset, document: PolicyDocument) -> tuple[Reason, ...]:
        """Every rule of ``document`` (and every protection) this request breaks."""
        handle, request = asset.handle, self.request
        requester_id = request.requester.account_id
        denials = []
        if document.is_expired(self.now):
            denials.append(
                Reason(
                    ReasonCode.policy_expired,
                    f"@{handle}'s policy expired at {document.expires_at.isoformat()}.",
                )
            )
        if document.audience == Audience.nobody:
            denials.append(Reason(ReasonCode.audience_nobody, f"@{handle}'s policy admits nobody."))
        elif not _admits(document, requester_id):
            denials.append(
                Reason(
                    ReasonCode.not_listed,
                    f"@{handle}'s policy admits only the accounts its owner listed, and "
                    "yours is not one of them.",
                )
            )
        if document.admits_anyone() and request.declared_use not in document.allowed_uses:
            uses = ", ".join(use.value for use in document.allowed_uses) or "no use"
            denials.append(
                Reason(
                    ReasonCode.use_not_allowed,
                    f"@{handle} may be used for {uses} only, not for "
                    f"{request.declared_use.value} use.",
                )
            )
        excluded = request.content_categories & excluded_content(document, kind=asset.kind)
        for category in sorted(excluded):
            found = request.content_found.get(category)
            shown = f"this prompt shows it: {found}" if found else "this request declares it"
            denials.append(
                Reason(
                    ReasonCode.content_excluded,
                    f"@{handle} may never appear in {category.label}, and {shown}.",
                )
            )
        for restriction in document.restrictions:
            how = request.restrictions_broken.get(restriction)
            if how is not None:
                denials.append(
                    Reason(
                        ReasonCode.restriction_broken,
                        f"@{handle}'s owner does not allow \u201c{restriction}\u201d, and this "
                        f"prompt breaks it: {how}.",
                    )
                )
        if not self._is_owner(asset):
            denials.extend(self._minors_denials(asset, document))
        usage = asset.usage
        if document.daily_use_limit is not None and usage.today >= document.daily_use_limit:
            denials.append(
                Reason(
                    ReasonCode.daily_limit_reached,
                    f"@{handle} may be used {document.daily_use_limit} times a day, and has "
                    "been today: try again after 00:00 UTC.",
                )
            )
        if document.total_use_limit is not None and usage.total >= document.total_use_limit:
            denials.append(
                Reason(
                    ReasonCode.total_limit_reached,
                    f"@{handle} may be used {document.total_use_limit} times in all, and has been.",
                )
            )
        return tuple(denials)

    def _minors_denials(self, asset: MatchedAsset, document: PolicyDocument) -> list[Reason]:
        """The protections of minors, for anyone but the asset's owner."""
        denials = []
        if is_minors_likeness(asset.kind, owner_born=asset.owner_date_of_birth, today=self.today):
            denials.append(
                Reason(
                    ReasonCode.minors_likeness_protected,
                    f"@{asset.handle} is the likeness of someone under {ADULT_AGE}: nobody "
                    "else may use it, whatever its policy says.",
                )
            )
        if is_minor(self.request.requester.date_of_birth, self.today) and not (
            document.minors_may_use
        ):
            denials.append(
                Reason(
                    ReasonCode.minors_not_admitted,
                    f"@{asset.handle}'s policy does not admit requesters under {ADULT_AGE}, "
                    "and you are one.",
                )
            )
        return denials

    def _approval(self, asset: MatchedAsset) -> OwnerApproval | None:
        return next(
            (
                approval
                for approval in self.approvals
                if approval.covers(asset_id=asset.id, request=self.request, now=self.now)
            ),
            None,
        )

    def _decline(self, asset: MatchedAsset, policy: PolicySnapshot) -> OwnerDecline | None:
        return next(
            (
                decline
                for decline in self.declines
                if decline.stands(
                    asset_id=asset.id,
                    requester_id=self.request.requester.account_id,
                    policy_version_id=policy.id,
                    now=self.now,
                )
            ),
            None,
        )

    def _earlier_request(self, asset: MatchedAsset) -> WaitingRequest | None:
        """Another request of this requester's that waits for the owner; none where this very
        request waits (sent again unchanged, it waits as before)."""
        if self._waits_already(asset.id):
            return None
        return min(
            self._waiting_for(asset.id),
            key=lambda w: (w.expires_at, str(w.clearance_id)),
            default=None,
        )

    def _waits_already(self, asset_id: uuid.UUID) -> bool:
        """Whether this very request waits for the owner of ``asset_id`` (sent before)."""
        return any(
            waiting.request_digest == self.request.digest for waiting in self._waiting_for(asset_id)
        )

    def _waiting_for(self, asset_id: uuid.UUID) -> list[WaitingRequest]:
        """This requester's requests that wait for the owner of ``asset_id``."""
        return [
            waiting
            for waiting in self.waiting
            if waiting.waits(
                asset_id=asset_id, requester_id=self.request.requester.account_id, now=self.now
            )
        ]

    def _is_owner(self, asset: MatchedAsset) -> bool:
        return asset.owner_id == self.request.requester.account_id


def disclosed_to(asset: MatchedAsset, *, requester_id: uuid.UUID, today: date) -> bool:
    """Whether ``requester_id`` may learn which asset this is: a character or style always; a
    likeness only if it is theirs, or its owner consented to them (never a minor's)."""
    if asset.kind != AssetKind.likeness or asset.owner_id == requester_id:
        return True
    if is_minors_likeness(asset.kind, owner_born=asset.owner_date_of_birth, today=today):
        return False
    return any(
        not grant.is_revoked()
        and _consistent(asset, grant)
        and _admits(grant.policy.document, requester_id)
        for grant in asset.grants
    )


def _consistent(asset: MatchedAsset, grant: GrantSnapshot) -> bool:
    """The grant, its policy version and the asset name one another."""
    policy = grant.policy
    return (
        policy is not None
        and grant.asset_id == asset.id
        and policy.asset_id == asset.id
        and policy.id == grant.policy_version_id
    )


def _admits(document: PolicyDocument, account_id: uuid.UUID) -> bool:
    return document.audience == Audience.anyone or (
        document.audience == Audience.listed and account_id in document.listed_accounts
    )
