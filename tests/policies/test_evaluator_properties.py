"""Properties of the policy evaluator over any request, assets, grants, policies, approvals,
declines and waiting requests hypothesis can draw: default deny, a revoked grant never allows,
every allow records the grant and policy version it relies on, the protections of minors,
cleared iff all allow, an owner's standing no is never asked again, and an owner is asked one
request of a requester's at a time."""

import uuid
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from policy_facts import ADULT_BORN, MINOR_BORN, MINOR_DAILY_LIMIT, NOW, decide

from policies.decisions import AssetOutcome, ClearanceOutcome, ReasonCode
from policies.document import Audience, ContentCategory, PolicyDocument, Price, Use
from policies.facts import (
    AssetUsage,
    GenerationRequest,
    GrantSnapshot,
    MatchedAsset,
    OwnerApproval,
    OwnerDecline,
    PolicySnapshot,
    Requester,
    WaitingRequest,
)
from rights.models import AssetKind, GrantStatus

# A few accounts, so that requesters, owners and listed accounts meet often.
ACCOUNTS = [uuid.UUID(int=n) for n in range(1, 5)]
DIGESTS = ["a" * 64, "b" * 64]
RESTRICTIONS = ["never drinking alcohol", "don't make me swear", "no political content"]
# Each draw is weighted towards what allows, so that allows are common enough to test.
BIRTHS = st.sampled_from([ADULT_BORN] * 4 + [MINOR_BORN, None])


def _mostly(usual, strategy):
    return st.one_of(st.just(usual), st.just(usual), strategy)


@st.composite
def documents(draw) -> PolicyDocument:
    audience = draw(st.sampled_from([Audience.anyone] * 2 + list(Audience)))
    listed = []
    if audience == Audience.listed:
        listed = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=1, max_size=3, unique=True))
    uses = draw(
        _mostly(
            list(Use),
            st.lists(
                st.sampled_from(Use), min_size=0 if audience == Audience.nobody else 1, unique=True
            ),
        )
    )
    daily = draw(_mostly(None, st.integers(1, 4)))
    total = draw(_mostly(None, st.integers(daily or 1, 8)))
    expires = draw(_mostly(None, st.integers(-3, 3).map(lambda m: NOW + timedelta(minutes=m))))
    return PolicyDocument(
        audience=audience,
        listed_accounts=listed,
        allowed_uses=uses,
        excluded_content=draw(_mostly([], st.lists(st.sampled_from(ContentCategory), unique=True))),
        restrictions=draw(_mostly([], st.lists(st.sampled_from(RESTRICTIONS), unique=True))),
        minors_may_use=draw(st.booleans()),
        approval_required=draw(st.booleans()),
        price=Price(per_use_minor=draw(st.integers(0, 500))),
        daily_use_limit=daily,
        total_use_limit=total,
        expires_at=expires,
    )


@st.composite
def grants(draw, asset_id: uuid.UUID) -> GrantSnapshot:
    policy = PolicySnapshot(
        id=uuid.uuid4(),
        asset_id=asset_id,
        version=draw(st.integers(1, 5)),
        document=draw(documents()),
    )
    status = draw(_mostly(GrantStatus.active, st.sampled_from(GrantStatus)))
    revoked_at = draw(_mostly(None, st.just(NOW - timedelta(minutes=1))))
    # Now and then records that disagree: a lost policy, another asset's grant or version.
    flaw = draw(st.sampled_from([None] * 12 + ["no policy", "other asset", "other version"]))
    return GrantSnapshot(
        id=uuid.uuid4(),
        asset_id=uuid.uuid4() if flaw == "other asset" else asset_id,
        policy_version_id=uuid.uuid4() if flaw == "other version" else policy.id,
        status=status,
        revoked_at=revoked_at,
        policy=None if flaw == "no policy" else policy,
    )


@st.composite
def matched_assets(draw) -> MatchedAsset:
    asset_id = uuid.uuid4()
    return MatchedAsset(
        id=asset_id,
        kind=draw(st.sampled_from(AssetKind)),
        handle=f"asset_{asset_id.hex[:8]}",
        owner_id=draw(st.sampled_from(ACCOUNTS)),
        owner_date_of_birth=draw(BIRTHS),
        grants=tuple(draw(st.lists(grants(asset_id), max_size=3))),
        usage=AssetUsage(today=draw(st.integers(0, 5)), total=draw(st.integers(0, 9))),
    )


@st.composite
def cases(draw) -> tuple[GenerationRequest, tuple[MatchedAsset, ...], tuple[OwnerApproval, ...]]:
    requester = Requester(
        account_id=draw(st.sampled_from(ACCOUNTS)),
        date_of_birth=draw(BIRTHS),
        generations_today=draw(st.integers(0, MINOR_DAILY_LIMIT + 1)),
    )
    request = GenerationRequest(
        requester=requester,
        digest=draw(st.sampled_from(DIGESTS)),
        declared_use=draw(st.sampled_from(Use)),
        content_categories=frozenset(draw(_mostly([], st.lists(st.sampled_from(ContentCategory))))),
        restrictions_broken={
            restriction: "it reads like it"
            for restriction in draw(_mostly([], st.lists(st.sampled_from(RESTRICTIONS))))
        },
    )
    assets = tuple(draw(st.lists(matched_assets(), max_size=4)))
    asset_ids = [asset.id for asset in assets] or [uuid.uuid4()]
    approvals = tuple(
        draw(
            st.lists(
                st.builds(
                    OwnerApproval,
                    asset_id=st.sampled_from(asset_ids),
                    requester_id=_mostly(requester.account_id, st.sampled_from(ACCOUNTS)),
                    request_digest=_mostly(request.digest, st.sampled_from(DIGESTS)),
                    expires_at=st.integers(-2, 2).map(lambda m: NOW + timedelta(minutes=m)),
                ),
                max_size=4,
            )
        )
    )
    return request, assets, approvals


def _consistent(asset: MatchedAsset, grant: GrantSnapshot) -> bool:
    return (
        grant.policy is not None
        and grant.asset_id == asset.id == grant.policy.asset_id
        and grant.policy.id == grant.policy_version_id
    )


def _relied(asset: MatchedAsset, decision) -> GrantSnapshot:
    (grant,) = [grant for grant in asset.grants if grant.id == decision.grant_id]
    return grant


@settings(max_examples=200)
@given(cases())
def test_default_deny_an_asset_allows_only_through_an_active_grant_that_admits_the_use(case):
    request, assets, approvals = case
    decision = decide(request, *assets, approvals=approvals)
    for asset, judged in zip(assets, decision.assets, strict=True):
        if judged.outcome != AssetOutcome.allow:
            continue
        grant = _relied(asset, judged)
        assert not grant.is_revoked() and _consistent(asset, grant)
        document = grant.policy.document
        requester_id = request.requester.account_id
        assert document.audience == Audience.anyone or (
            document.audience == Audience.listed and requester_id in document.listed_accounts
        )
        assert request.declared_use in document.allowed_uses
        assert not document.is_expired(NOW)
        assert not request.content_categories & set(document.excluded_content)
        assert not set(request.restrictions_broken) & set(document.restrictions)
        assert document.daily_use_limit is None or asset.usage.today < document.daily_use_limit
        assert document.total_use_limit is None or asset.usage.total < document.total_use_limit
        if document.approval_required and asset.owner_id != requester_id:
            assert any(a.covers(asset_id=asset.id, request=request, now=NOW) for a in approvals)


@settings(max_examples=200)
@given(cases())
def test_without_grants_nothing_touched_is_allowed(case):
    request, assets, approvals = case
    bare = [replace(asset, grants=()) for asset in assets]
    decision = decide(request, *bare, approvals=approvals)
    assert all(judged.outcome == AssetOutcome.deny for judged in decision.assets)
    assert decision.relied_on == ()
    assert (decision.outcome == ClearanceOutcome.cleared) == (
        not assets and not decision.request_reasons
    )


@settings(max_examples=200)
@given(cases(), st.data())
def test_a_revoked_grant_never_allows(case, data):
    request, assets, approvals = case
    decision = decide(request, *assets, approvals=approvals)
    for asset, judged in zip(assets, decision.assets, strict=True):
        if judged.outcome == AssetOutcome.allow:
            assert not _relied(asset, judged).is_revoked()
    # Revoking some grants never turns a denial into an allow, nor keeps relying on them.
    revoked = [
        replace(
            asset,
            grants=tuple(
                replace(grant, status=GrantStatus.revoked, revoked_at=NOW)
                if data.draw(st.booleans())
                else grant
                for grant in asset.grants
            ),
        )
        for asset in assets
    ]
    after = decide(request, *revoked, approvals=approvals)
    for before_judged, asset, judged in zip(decision.assets, revoked, after.assets, strict=True):
        if judged.outcome == AssetOutcome.allow:
            assert before_judged.outcome == AssetOutcome.allow
            assert not _relied(asset, judged).is_revoked()
        if all(grant.is_revoked() for grant in asset.grants):
            assert judged.outcome == AssetOutcome.deny


@settings(max_examples=200)
@given(cases())
def test_every_allow_records_the_grant_and_policy_version_it_relies_on(case):
    request, assets, approvals = case
    decision = decide(request, *assets, approvals=approvals)
    allowed = []
    for asset, judged in zip(assets, decision.assets, strict=True):
        assert judged.asset_id == asset.id
        if judged.outcome == AssetOutcome.allow:
            grant = _relied(asset, judged)
            assert judged.policy_version_id == grant.policy.id == grant.policy_version_id
            assert judged.price == grant.policy.document.price
            allowed.append((asset.id, grant.id, grant.policy.id))
    assert [(r.asset_id, r.grant_id, r.policy_version_id) for r in decision.relied_on] == allowed


@settings(max_examples=200)
@given(cases())
def test_the_protections_of_minors_hold(case):
    request, assets, approvals = case
    decision = decide(request, *assets, approvals=approvals)
    requester = request.requester
    requester_is_minor = requester.date_of_birth in (MINOR_BORN, None)
    if requester.date_of_birth is None or (
        requester_is_minor and requester.generations_today >= MINOR_DAILY_LIMIT
    ):
        assert decision.outcome == ClearanceOutcome.denied
    for asset, judged in zip(assets, decision.assets, strict=True):
        if judged.outcome != AssetOutcome.allow or asset.owner_id == requester.account_id:
            continue
        # Allowed to someone other than its owner: never a minor's likeness, and a minor
        # only where the policy relied on admits minors.
        assert not (asset.kind == AssetKind.likeness and asset.owner_date_of_birth != ADULT_BORN)
        if requester_is_minor:
            assert _relied(asset, judged).policy.document.minors_may_use
    for asset, judged in zip(assets, decision.assets, strict=True):
        if (
            asset.kind == AssetKind.likeness
            and ContentCategory.sexual in request.content_categories
        ):
            assert judged.outcome == AssetOutcome.deny


@settings(max_examples=200)
@given(cases())
def test_cleared_iff_every_asset_allows_and_the_requester_may_generate(case):
    request, assets, approvals = case
    decision = decide(request, *assets, approvals=approvals)
    outcomes = [judged.outcome for judged in decision.assets]
    every_allows = all(outcome == AssetOutcome.allow for outcome in outcomes)
    assert (decision.outcome == ClearanceOutcome.cleared) == (
        every_allows and not decision.request_reasons
    )
    assert (decision.outcome == ClearanceOutcome.needs_approval) == (
        not decision.request_reasons
        and AssetOutcome.deny not in outcomes
        and AssetOutcome.needs_approval in outcomes
    )
    # Every outcome says why, and a requester is told only what they may learn.
    for judged in decision.assets:
        assert judged.reasons and all(reason.text for reason in judged.reasons)
        if not judged.disclosed:
            assert all(judged.handle not in r.text for r in judged.requester_reasons)


@settings(max_examples=200)
@given(cases(), st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_the_order_grants_were_read_in(case, random):
    request, assets, approvals = case
    shuffled = [
        replace(asset, grants=tuple(random.sample(asset.grants, len(asset.grants))))
        for asset in assets
    ]
    assert decide(request, *assets, approvals=approvals) == decide(
        request, *shuffled, approvals=approvals
    )


@settings(max_examples=200)
@given(cases())
def test_a_broken_restriction_denies_quoting_the_owners_own_words(case):
    request, assets, approvals = case
    decision = decide(request, *assets, approvals=approvals)
    for asset, judged in zip(assets, decision.assets, strict=True):
        if judged.grant_id is None or judged.outcome != AssetOutcome.deny:
            continue
        grant = _relied(asset, judged)
        if grant.is_revoked() or not _consistent(asset, grant):
            continue  # denied for that alone, before any rule of its policy is read
        broken = set(request.restrictions_broken) & set(grant.policy.document.restrictions)
        quoted = {r.text for r in judged.reasons if r.code == ReasonCode.restriction_broken}
        assert len(quoted) == len(broken)
        assert all(any(f"\u201c{words}\u201d" in text for text in quoted) for words in broken)


ASKS = AssetOutcome.needs_approval


@st.composite
def declines(draw, request: GenerationRequest, assets: tuple[MatchedAsset, ...]):
    """Owners' declines of the assets, mostly of this requester, mostly under a version one of
    the asset's grants binds; lapsing around NOW."""
    drawn = []
    for asset in draw(st.lists(st.sampled_from(assets), max_size=4)) if assets else ():
        versions = [grant.policy_version_id for grant in asset.grants]
        granted = st.sampled_from(versions) if versions else st.uuids()
        drawn.append(
            OwnerDecline(
                asset_id=asset.id,
                requester_id=draw(_mostly(request.requester.account_id, st.sampled_from(ACCOUNTS))),
                policy_version_id=draw(st.one_of(granted, granted, st.uuids())),
                declined_at=NOW - timedelta(days=1),
                stands_until=NOW + timedelta(minutes=draw(st.integers(-2, 2))),
            )
        )
    return tuple(drawn)


@st.composite
def waiting_requests(draw, request: GenerationRequest, assets: tuple[MatchedAsset, ...]):
    """Requests waiting for the assets' owners, mostly this requester's, of either digest;
    expiring around NOW."""
    return tuple(
        WaitingRequest(
            asset_id=asset.id,
            requester_id=draw(_mostly(request.requester.account_id, st.sampled_from(ACCOUNTS))),
            request_digest=draw(st.sampled_from(DIGESTS)),
            clearance_id=uuid.uuid4(),
            expires_at=draw(AROUND_NOW),
        )
        for asset in (draw(st.lists(st.sampled_from(assets), max_size=4)) if assets else ())
    )


@settings(max_examples=200)
@given(cases(), st.data())
def test_a_decline_or_a_waiting_request_changes_nothing_but_asking_the_owner(case, data):
    request, assets, approvals = case
    declined = data.draw(declines(request, assets))
    waiting = data.draw(waiting_requests(request, assets))
    before = decide(request, *assets, approvals=approvals)
    after = decide(request, *assets, approvals=approvals, declines=declined, waiting=waiting)
    for was, judged in zip(before.assets, after.assets, strict=True):
        if was.outcome == ASKS:
            assert judged.outcome in (ASKS, AssetOutcome.deny)
        else:
            assert judged == was  # an allow or a deny is none of their business


@settings(max_examples=200)
@given(cases(), st.data())
def test_a_request_denied_anyway_says_which_owners_were_not_asked(case, data):
    """An asset that would wait for its owner says, in a denied request, that they were not
    asked; only a request that can still clear, or this very one sent again, waits for them."""
    request, assets, approvals = case
    waiting = data.draw(waiting_requests(request, assets))
    decision = decide(request, *assets, approvals=approvals, waiting=waiting)
    for judged in decision.assets:
        if judged.outcome != ASKS:
            continue
        codes = [reason.code for reason in judged.reasons]
        sent_before = any(
            each.request_digest == request.digest
            and each.waits(
                asset_id=judged.asset_id, requester_id=request.requester.account_id, now=NOW
            )
            for each in waiting
        )
        if decision.outcome == ClearanceOutcome.denied and not sent_before:
            assert codes == [ReasonCode.approval_not_asked]
        else:
            assert codes == [ReasonCode.approval_required]


ME, SOMEONE_ELSE = ACCOUNTS[:2]
AROUND_NOW = st.integers(-2, 2).map(lambda m: NOW + timedelta(minutes=m))


def _asking(versions: int) -> tuple[GenerationRequest, MatchedAsset]:
    """A request of ME's, and one asset whose every policy admits it and asks for approval,
    under ``versions`` versions."""
    request = GenerationRequest(
        requester=Requester(account_id=ME, date_of_birth=ADULT_BORN, generations_today=0),
        digest=DIGESTS[0],
        declared_use=Use.personal,
        content_categories=frozenset(),
    )
    asset_id = uuid.uuid4()
    asks = PolicyDocument(audience=Audience.anyone, allowed_uses=list(Use), approval_required=True)
    policies = [
        PolicySnapshot(id=uuid.uuid4(), asset_id=asset_id, version=n, document=asks)
        for n in range(1, versions + 1)
    ]
    grants = tuple(
        GrantSnapshot(
            id=uuid.uuid4(),
            asset_id=asset_id,
            policy_version_id=policy.id,
            status=GrantStatus.active,
            revoked_at=None,
            policy=policy,
        )
        for policy in policies
    )
    asset = MatchedAsset(
        id=asset_id,
        kind=AssetKind.character,
        handle="asked",
        owner_id=ACCOUNTS[3],
        owner_date_of_birth=ADULT_BORN,
        grants=grants,
        usage=AssetUsage(today=0, total=0),
    )
    return request, asset


def _approvals_of(asset_id: uuid.UUID):
    return st.lists(
        st.builds(
            OwnerApproval,
            asset_id=st.just(asset_id),
            requester_id=_mostly(ME, st.just(SOMEONE_ELSE)),
            request_digest=st.sampled_from(DIGESTS),
            expires_at=AROUND_NOW,
        ),
        max_size=2,
    )


@settings(max_examples=300)
@given(st.data())
def test_the_owner_is_not_asked_again_while_their_no_stands(data):
    """One asset whose every policy admits the request and asks for approval, under one or two
    versions; the owners' answers drawn around them."""
    request, asset = _asking(data.draw(st.integers(1, 2)))
    policies = [grant.policy for grant in asset.grants]
    versions = [policy.id for policy in policies] + [uuid.uuid4()]
    declined = data.draw(
        st.lists(
            st.builds(
                OwnerDecline,
                asset_id=_mostly(asset.id, st.uuids()),
                requester_id=_mostly(ME, st.just(SOMEONE_ELSE)),
                policy_version_id=st.sampled_from(versions),
                declined_at=st.just(NOW - timedelta(days=1)),
                stands_until=AROUND_NOW,
            ),
            max_size=3,
        )
    )
    approvals = data.draw(_approvals_of(asset.id))
    (judged,) = decide(request, asset, approvals=approvals, declines=declined).assets

    approved = any(a.covers(asset_id=asset.id, request=request, now=NOW) for a in approvals)
    standing = {
        d.policy_version_id
        for d in declined
        if d.asset_id == asset.id and d.requester_id == ME and d.stands_until > NOW
    }
    undeclined = [policy.id for policy in policies if policy.id not in standing]
    if approved:  # the owner's yes to this very request
        assert judged.outcome == AssetOutcome.allow
    elif undeclined:  # asked again only under a version they did not say no under
        assert judged.outcome == ASKS
        assert judged.policy_version_id in undeclined
    else:
        assert judged.outcome == AssetOutcome.deny
        assert [r.code for r in judged.reasons] == [ReasonCode.owner_declined]


@settings(max_examples=300)
@given(st.data())
def test_the_owner_is_asked_one_request_of_a_requesters_at_a_time(data):
    """One asset that asks for approval; the requests waiting for its owner and the owner's
    yeses drawn around it, of this request's digest or another's."""
    request, asset = _asking(data.draw(st.integers(1, 2)))
    waiting = data.draw(
        st.lists(
            st.builds(
                WaitingRequest,
                asset_id=_mostly(asset.id, st.uuids()),
                requester_id=_mostly(ME, st.just(SOMEONE_ELSE)),
                request_digest=st.sampled_from(DIGESTS),
                clearance_id=st.uuids(),
                expires_at=AROUND_NOW,
            ),
            max_size=3,
        )
    )
    approvals = data.draw(_approvals_of(asset.id))
    (judged,) = decide(request, asset, approvals=approvals, waiting=waiting).assets

    approved = any(a.covers(asset_id=asset.id, request=request, now=NOW) for a in approvals)
    waits = [
        w for w in waiting if w.asset_id == asset.id and w.requester_id == ME and w.expires_at > NOW
    ]
    if approved:  # the owner's yes to this very request
        assert judged.outcome == AssetOutcome.allow
    elif waits and all(w.request_digest != request.digest for w in waits):
        assert judged.outcome == AssetOutcome.deny
        assert [r.code for r in judged.reasons] == [ReasonCode.earlier_request_waiting]
        first = min(w.expires_at for w in waits)
        named = {str(w.clearance_id) for w in waits if w.expires_at == first}
        assert any(clearance in judged.reasons[0].text for clearance in named)
    else:  # nothing else waits, or this very request does (sent again unchanged)
        assert judged.outcome == ASKS
