"""Each rule of the policy evaluator on one example: its outcome, its code and its words."""

import uuid
from dataclasses import replace
from datetime import timedelta

from policy_facts import (
    MINOR_BORN,
    MINOR_DAILY_LIMIT,
    NOW,
    OPEN,
    approval,
    asset,
    decide,
    decline,
    grant,
    policy,
    request,
    requester,
    waiting_request,
)

from policies.decisions import AssetOutcome, ClearanceOutcome, ReasonCode
from policies.document import ContentCategory, Use
from rights.models import AssetKind


def _only(decision):
    (one,) = decision.assets
    return one


def _codes(asset_decision):
    return [reason.code for reason in asset_decision.reasons]


def test_an_open_policy_allows_and_says_under_which_version():
    character = asset(document=OPEN)
    decision = decide(request(use=Use.commercial), character)
    judged = _only(decision)
    assert decision.outcome == ClearanceOutcome.cleared
    assert judged.outcome == AssetOutcome.allow
    assert _codes(judged) == [ReasonCode.allowed]
    assert judged.reasons[0].text == (
        f"@{character.handle} may be used for commercial use under its owner's policy version 1."
    )
    (relied,) = character.grants
    assert judged.grant_id == relied.id and judged.policy_version_id == relied.policy.id
    assert decision.relied_on[0].grant_id == relied.id


def test_a_request_touching_no_registered_asset_is_cleared():
    decision = decide(request())
    assert decision.outcome == ClearanceOutcome.cleared
    assert decision.assets == () and decision.relied_on == ()


def test_no_grant_denies():
    character = asset(document=None)
    judged = _only(decide(request(), character))
    assert judged.outcome == AssetOutcome.deny
    assert _codes(judged) == [ReasonCode.no_grant]
    assert "has not consented to any use" in judged.reasons[0].text
    assert judged.grant_id is None and judged.price is None


def test_a_revoked_grant_denies():
    judged = _only(decide(request(), asset(revoked=True)))
    assert judged.outcome == AssetOutcome.deny
    assert _codes(judged) == [ReasonCode.grant_revoked]
    assert "withdrew this consent" in judged.reasons[0].text


def test_a_grant_marked_revoked_at_but_still_active_counts_as_revoked():
    character = asset()
    (active,) = character.grants
    half_revoked = replace(active, revoked_at=NOW)
    judged = _only(decide(request(), _with_grants(character, half_revoked)))
    assert _codes(judged) == [ReasonCode.grant_revoked]


def test_a_grant_whose_records_disagree_denies():
    character = asset()
    (active,) = character.grants
    flawed = (
        replace(active, policy=None),  # its policy version was not found
        replace(active, asset_id=uuid.uuid4()),  # a grant of another asset
        replace(active, policy=replace(active.policy, asset_id=uuid.uuid4())),
        replace(active, policy_version_id=uuid.uuid4()),  # binds another version
    )
    for bad in flawed:
        judged = _only(decide(request(), _with_grants(character, bad)))
        assert judged.outcome == AssetOutcome.deny
        assert _codes(judged) == [ReasonCode.grant_inconsistent]
        assert "do not agree" in judged.reasons[0].text


def test_audience_nobody_denies():
    judged = _only(decide(request(), asset(document={"audience": "nobody"})))
    assert _codes(judged) == [ReasonCode.audience_nobody]
    assert judged.reasons[0].text.endswith("policy admits nobody.")


def test_audience_listed_admits_the_listed_and_no_one_else():
    listed_one = requester()
    document = {
        "audience": "listed",
        "listed_accounts": [str(listed_one.account_id)],
        "allowed_uses": ["personal"],
    }
    character = asset(document=document)
    assert _only(decide(request(who=listed_one), character)).outcome == AssetOutcome.allow
    stranger = _only(decide(request(), character))
    assert stranger.outcome == AssetOutcome.deny
    assert _codes(stranger) == [ReasonCode.not_listed]
    assert "yours is not one of them" in stranger.reasons[0].text


def test_a_use_the_policy_does_not_allow_denies():
    document = {"audience": "anyone", "allowed_uses": ["personal", "parody"]}
    judged = _only(decide(request(use=Use.advertising), asset(document=document)))
    assert _codes(judged) == [ReasonCode.use_not_allowed]
    assert judged.reasons[0].text.endswith(
        "may be used for parody, personal only, not for advertising use."
    )


def test_excluded_content_denies_and_names_the_category():
    document = {**OPEN, "excluded_content": ["violence", "hate"]}
    shown = (ContentCategory.violence, ContentCategory.political)
    judged = _only(decide(request(categories=shown), asset(document=document)))
    assert _codes(judged) == [ReasonCode.content_excluded]
    assert "may never appear in violent content, and this request declares it" in (
        judged.reasons[0].text
    )
    allowed = decide(request(categories=(ContentCategory.political,)), asset(document=document))
    assert allowed.outcome == ClearanceOutcome.cleared


def test_each_excluded_category_found_in_the_prompt_says_what_showed_it():
    document = {**OPEN, "excluded_content": ["violence", "hate"]}
    found = {
        ContentCategory.violence: "it says \u201cbeheaded\u201d",
        ContentCategory.hate: "it reads like \u201ca neo-nazi rally\u201d",
    }
    character = asset(document=document)
    judged = _only(decide(request(found=found), character))
    assert _codes(judged) == [ReasonCode.content_excluded, ReasonCode.content_excluded]
    assert [reason.text for reason in judged.reasons] == [
        f"@{character.handle} may never appear in hateful content, and this prompt shows it: "
        "it reads like \u201ca neo-nazi rally\u201d.",
        f"@{character.handle} may never appear in violent content, and this prompt shows it: "
        "it says "
        "\u201cbeheaded\u201d.",
    ]


def test_a_likeness_never_appears_in_sexual_content_whatever_its_policy_says():
    # The policy excludes nothing; the protection adds sexual content for a likeness.
    requester_one = requester()
    face = asset(kind=AssetKind.likeness)
    judged = _only(decide(request(who=requester_one, categories=(ContentCategory.sexual,)), face))
    assert judged.outcome == AssetOutcome.deny
    assert _codes(judged) == [ReasonCode.content_excluded]
    assert "may never appear in sexual content" in judged.reasons[0].text
    character = asset(kind=AssetKind.character)
    assert decide(request(categories=(ContentCategory.sexual,)), character).outcome == (
        ClearanceOutcome.cleared
    )


def test_the_daily_limit_counts_uses_so_far_today():
    document = {**OPEN, "daily_use_limit": 5}
    assert decide(request(), asset(document=document, used_today=4)).outcome == (
        ClearanceOutcome.cleared
    )
    judged = _only(decide(request(), asset(document=document, used_today=5)))
    assert _codes(judged) == [ReasonCode.daily_limit_reached]
    assert "may be used 5 times a day, and has been today" in judged.reasons[0].text


def test_the_total_limit_counts_every_use_so_far():
    document = {**OPEN, "total_use_limit": 100}
    assert decide(request(), asset(document=document, used_in_all=99)).outcome == (
        ClearanceOutcome.cleared
    )
    judged = _only(decide(request(), asset(document=document, used_in_all=100)))
    assert _codes(judged) == [ReasonCode.total_limit_reached]
    assert "may be used 100 times in all" in judged.reasons[0].text


def test_an_expired_policy_denies_from_the_moment_it_expires():
    document = {**OPEN, "expires_at": NOW.isoformat()}
    earlier = decide(request(), asset(document=document), now=NOW - timedelta(seconds=1))
    assert earlier.outcome == ClearanceOutcome.cleared
    judged = _only(decide(request(), asset(document=document), now=NOW))
    assert _codes(judged) == [ReasonCode.policy_expired]
    assert "policy expired at 2026-06-01T12:00:00+00:00" in judged.reasons[0].text


def test_every_broken_rule_is_given_not_just_the_first():
    document = {**OPEN, "excluded_content": ["violence"], "daily_use_limit": 1}
    judged = _only(
        decide(
            request(use=Use.political, categories=(ContentCategory.violence,)),
            asset(document=document, used_today=1),
        )
    )
    assert _codes(judged) == [
        ReasonCode.use_not_allowed,
        ReasonCode.content_excluded,
        ReasonCode.daily_limit_reached,
    ]


def test_approval_required_waits_for_the_owner_then_allows_with_their_approval():
    document = {**OPEN, "approval_required": True}
    character = asset(document=document)
    asked = request()
    waiting = decide(asked, character)
    judged = _only(waiting)
    assert waiting.outcome == ClearanceOutcome.needs_approval
    assert judged.outcome == AssetOutcome.needs_approval
    assert _codes(judged) == [ReasonCode.approval_required]
    assert "approves each use" in judged.reasons[0].text
    assert judged.price is not None  # a price to show while the request waits
    approved = decide(
        asked,
        character,
        approvals=(approval(of=character, for_request=asked, expires_at=NOW + timedelta(days=1)),),
    )
    assert approved.outcome == ClearanceOutcome.cleared
    assert _codes(_only(approved)) == [ReasonCode.allowed, ReasonCode.owner_approved]
    assert "approved this request, until 2026-06-02T12:00:00+00:00" in (
        _only(approved).reasons[1].text
    )


def test_an_approval_counts_only_unexpired_and_for_this_requester_asset_and_request():
    document = {**OPEN, "approval_required": True}
    character, other = asset(document=document), asset(document=document)
    asked = request()
    later = NOW + timedelta(hours=1)
    covering = approval(of=character, for_request=asked, expires_at=later)
    assert decide(asked, character, approvals=(covering,)).outcome == ClearanceOutcome.cleared
    not_covering = (
        replace(covering, expires_at=NOW),  # expired at NOW
        replace(covering, asset_id=other.id),
        replace(covering, request_digest="b" * 64),  # another request of the same requester
        replace(covering, requester_id=uuid.uuid4()),  # someone else
    )
    for each in not_covering:
        decision = decide(asked, character, approvals=(each,))
        assert _only(decision).outcome == AssetOutcome.needs_approval


def test_a_standing_decline_refuses_the_requester_instead_of_asking_the_owner_again():
    document = {**OPEN, "approval_required": True}
    character = asset(document=document)
    asked = request()
    standing = decline(of=character, for_request=asked, stands_until=NOW + timedelta(days=28))
    judged = _only(decide(asked, character, declines=(standing,)))
    assert judged.outcome == AssetOutcome.deny
    assert _codes(judged) == [ReasonCode.owner_declined]
    assert judged.reasons[0].text == (
        f"The owner of @{character.handle} declined your request on 2026-05-30: they are not "
        "asked again until 2026-06-29T12:00:00+00:00, unless they change its policy."
    )
    # Any request of theirs for the asset, whatever its words or use.
    other = request(who=asked.requester, use=Use.commercial, digest="b" * 64)
    assert _only(decide(other, character, declines=(standing,))).outcome == AssetOutcome.deny
    not_standing = (
        replace(standing, stands_until=NOW),  # lapsed at NOW
        replace(standing, asset_id=uuid.uuid4()),
        replace(standing, requester_id=uuid.uuid4()),  # someone else's no
        replace(standing, policy_version_id=uuid.uuid4()),  # under another version
    )
    for each in not_standing:
        assert _only(decide(asked, character, declines=(each,))).outcome == (
            AssetOutcome.needs_approval
        )
    # The owner's yes to this very request still clears it; a policy that asks nobody's
    # approval never reads a decline.
    yes = approval(of=character, for_request=asked, expires_at=NOW + timedelta(hours=1))
    both = decide(asked, character, approvals=(yes,), declines=(standing,))
    assert both.outcome == ClearanceOutcome.cleared
    unasked = asset(document=OPEN)
    no = decline(of=unasked, for_request=asked, stands_until=NOW + timedelta(days=1))
    assert decide(asked, unasked, declines=(no,)).outcome == ClearanceOutcome.cleared


def test_a_decline_under_one_version_leaves_a_newer_consented_version_to_ask():
    document = {**OPEN, "approval_required": True}
    character = asset(document=document)
    newer = grant(on=policy(asset_id=character.id, document=document, version=2))
    both = replace(character, grants=(*character.grants, newer))
    asked = request()
    standing = decline(of=character, for_request=asked, stands_until=NOW + timedelta(days=1))
    judged = _only(decide(asked, both, declines=(standing,)))
    assert judged.outcome == AssetOutcome.needs_approval
    assert judged.policy_version_id == newer.policy_version_id


def test_another_request_waiting_for_the_owner_refuses_this_one_naming_it():
    document = {**OPEN, "approval_required": True}
    character = asset(document=document)
    earlier = request()
    waits = waiting_request(of=character, for_request=earlier, expires_at=NOW + timedelta(hours=3))
    changed = request(who=earlier.requester, digest="b" * 64)  # a word changed
    judged = _only(decide(changed, character, waiting=(waits,)))
    assert judged.outcome == AssetOutcome.deny
    assert _codes(judged) == [ReasonCode.earlier_request_waiting]
    assert judged.reasons[0].text == (
        f"Your request {waits.clearance_id} still waits for the owner of @{character.handle}, "
        "who is asked one request of yours at a time, so this one was not sent to them: send "
        "it again once they answer that one, or after 2026-06-01T15:00:00+00:00."
    )
    # The waiting request itself, sent again unchanged, still waits.
    assert _only(decide(earlier, character, waiting=(waits,))).outcome == (
        AssetOutcome.needs_approval
    )
    not_waiting = (
        replace(waits, expires_at=NOW),  # expired, unanswered, at NOW
        replace(waits, asset_id=uuid.uuid4()),  # waiting for another asset's owner
        replace(waits, requester_id=uuid.uuid4()),  # someone else's
    )
    for each in not_waiting:
        assert _only(decide(changed, character, waiting=(each,))).outcome == (
            AssetOutcome.needs_approval
        )
    # The owner's yes to this very request clears it; their standing no is the reason given.
    yes = approval(of=character, for_request=changed, expires_at=NOW + timedelta(hours=1))
    assert decide(changed, character, approvals=(yes,), waiting=(waits,)).outcome == (
        ClearanceOutcome.cleared
    )
    no = decline(of=character, for_request=changed, stands_until=NOW + timedelta(days=1))
    refused = _only(decide(changed, character, declines=(no,), waiting=(waits,)))
    assert _codes(refused) == [ReasonCode.owner_declined]
    # Neither a policy that asks nobody's approval nor the owner's own use reads it.
    unasked = asset(document=OPEN)
    open_wait = waiting_request(
        of=unasked, for_request=earlier, expires_at=NOW + timedelta(hours=1)
    )
    assert decide(changed, unasked, waiting=(open_wait,)).outcome == ClearanceOutcome.cleared
    own = replace(character, owner_id=earlier.requester.account_id)
    assert decide(changed, own, waiting=(waits,)).outcome == ClearanceOutcome.cleared


def test_of_several_requests_waiting_the_earliest_is_named():
    character = asset(document={**OPEN, "approval_required": True})
    who = requester()
    first, second = (
        waiting_request(of=character, for_request=request(who=who, digest=d), expires_at=until)
        for d, until in (("c" * 64, NOW + timedelta(hours=1)), ("d" * 64, NOW + timedelta(hours=2)))
    )
    judged = _only(decide(request(who=who), character, waiting=(second, first)))
    assert str(first.clearance_id) in judged.reasons[0].text


def test_the_owner_needs_a_grant_but_no_approval_of_their_own_use():
    owner = requester()
    document = {**OPEN, "approval_required": True}
    own = asset(document=document, owner_id=owner.account_id)
    assert decide(request(who=owner), own).outcome == ClearanceOutcome.cleared
    assert decide(request(who=owner), asset(document=None, owner_id=owner.account_id)).outcome == (
        ClearanceOutcome.denied
    )


def test_a_minor_cannot_use_others_assets_unless_the_policy_admits_minors():
    minor = requester(born=MINOR_BORN)
    for kind in AssetKind:
        judged = _only(decide(request(who=minor), asset(kind=kind)))
        assert _codes(judged) == [ReasonCode.minors_not_admitted]
        assert "does not admit requesters under 18, and you are one" in judged.reasons[0].text
        admitting = asset(kind=kind, document={**OPEN, "minors_may_use": True})
        assert decide(request(who=minor), admitting).outcome == ClearanceOutcome.cleared


def test_a_minor_may_use_their_own_likeness_under_their_own_grant():
    minor = requester(born=MINOR_BORN)
    document = {
        "audience": "listed",
        "listed_accounts": [str(minor.account_id)],
        "allowed_uses": ["personal"],
    }
    own = asset(
        kind=AssetKind.likeness, document=document, owner_id=minor.account_id, owner_born=MINOR_BORN
    )
    assert decide(request(who=minor), own).outcome == ClearanceOutcome.cleared


def test_a_minors_likeness_is_never_usable_by_others_whatever_the_policy_says():
    # A version stored before the age checks, open to anyone, minors included.
    document = {**OPEN, "minors_may_use": True}
    face = asset(kind=AssetKind.likeness, document=document, owner_born=MINOR_BORN)
    for who in (requester(), requester(born=MINOR_BORN)):
        judged = _only(decide(request(who=who), face))
        assert judged.outcome == AssetOutcome.deny
        assert ReasonCode.minors_likeness_protected in _codes(judged)
        assert "likeness of someone under 18: nobody else may use it" in judged.reasons[0].text
        # The requester is not told the face is a minor's, nor whose it is.
        assert not judged.disclosed
        assert [r.code for r in judged.requester_reasons] == [ReasonCode.not_consented]


def test_a_likeness_whose_owners_age_is_not_on_record_is_protected_as_a_minors():
    face = asset(kind=AssetKind.likeness, owner_born=None)
    assert ReasonCode.minors_likeness_protected in _codes(_only(decide(request(), face)))


def test_a_minor_has_a_daily_generation_limit_adults_do_not():
    under = requester(born=MINOR_BORN, generations_today=MINOR_DAILY_LIMIT - 1)
    assert decide(request(who=under)).outcome == ClearanceOutcome.cleared
    reached = requester(born=MINOR_BORN, generations_today=MINOR_DAILY_LIMIT)
    decision = decide(request(who=reached))
    assert decision.outcome == ClearanceOutcome.denied
    assert [r.code for r in decision.request_reasons] == [ReasonCode.minor_daily_limit_reached]
    assert decision.request_reasons[0].text.startswith(
        f"Requesters under 18 may generate {MINOR_DAILY_LIMIT} times a day"
    )
    adult = requester(generations_today=10 * MINOR_DAILY_LIMIT)
    assert decide(request(who=adult)).outcome == ClearanceOutcome.cleared


def test_a_requester_whose_age_is_not_on_record_is_denied():
    decision = decide(request(who=requester(born=None)))
    assert decision.outcome == ClearanceOutcome.denied
    assert [r.code for r in decision.request_reasons] == [ReasonCode.age_unknown]
    assert "date of birth is not on record" in decision.request_reasons[0].text


def test_a_face_without_consent_for_this_requester_is_not_named_to_them():
    listed_other = {
        "audience": "listed",
        "listed_accounts": [str(uuid.uuid4())],
        "allowed_uses": ["personal"],
    }
    for document in (None, {"audience": "nobody"}, listed_other):
        judged = _only(decide(request(), asset(kind=AssetKind.likeness, document=document)))
        assert judged.outcome == AssetOutcome.deny and not judged.disclosed
        (told,) = judged.requester_reasons
        assert told.code == ReasonCode.not_consented
        assert judged.handle not in told.text
    granted = _only(decide(request(use=Use.advertising), asset(kind=AssetKind.likeness)))
    # Consented to this requester, so named, even when this use is not allowed.
    assert granted.outcome == AssetOutcome.deny and granted.disclosed
    assert granted.requester_reasons == granted.reasons


def test_of_several_grants_the_one_that_allows_is_relied_on():
    character = asset(document={"audience": "nobody"})
    (closed,) = character.grants
    open_version = policy(asset_id=character.id, document=OPEN, version=2)
    opened = grant(on=open_version)
    judged = _only(decide(request(), _with_grants(character, closed, opened)))
    assert judged.outcome == AssetOutcome.allow
    assert (judged.grant_id, judged.policy_version_id) == (opened.id, open_version.id)


def test_cleared_only_when_every_asset_allows():
    allowed, denied = asset(), asset(document=None)
    assert decide(request(), allowed, asset()).outcome == ClearanceOutcome.cleared
    decision = decide(request(), allowed, denied)
    assert decision.outcome == ClearanceOutcome.denied
    assert [a.outcome for a in decision.assets] == [AssetOutcome.allow, AssetOutcome.deny]
    waiting = asset(document={**OPEN, "approval_required": True})
    assert decide(request(), allowed, waiting).outcome == ClearanceOutcome.needs_approval
    assert decide(request(), waiting, denied).outcome == ClearanceOutcome.denied


def _with_grants(matched, *grants):
    return replace(matched, grants=grants)
