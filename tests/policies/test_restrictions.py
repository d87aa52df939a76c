"""Restrictions in the owner's own words: what each forbids, how the document validates them,
and how the evaluator denies with them."""

import uuid

import pytest
from policy_facts import OPEN, asset, decide, request
from pydantic import ValidationError

from policies.decisions import NOT_CONSENTED, AssetOutcome, ClearanceOutcome, ReasonCode
from policies.document import PolicyDocument
from policies.restrictions import MAX_RESTRICTIONS, forbidden_activities
from rights.models import AssetKind


@pytest.mark.parametrize(
    ("restriction", "forbidden"),
    [
        ("never drinking alcohol", ("drinking alcohol",)),
        ("don't make me swear", ("swear",)),
        ("never in political content", ("political content",)),
        ("Please never show my face smoking.", ("smoking",)),
        ("don't put me in religious content", ("religious content",)),
        ("never with guns or weapons", ("guns or weapons", "guns", "weapons")),
        ("I don't want to be in ads for fast food", ("ads for fast food",)),
    ],
)
def test_a_restriction_is_unwrapped_into_what_it_forbids(restriction, forbidden):
    assert forbidden_activities(restriction) == forbidden


def test_restrictions_are_stored_as_written_with_their_spaces_tidied():
    document = PolicyDocument(restrictions=["  never   drinking alcohol ", "don't make me swear"])
    assert document.restrictions == ["never drinking alcohol", "don't make me swear"]
    stored = PolicyDocument.from_stored(document.model_dump(mode="json"))
    assert stored.restrictions == document.restrictions
    assert PolicyDocument.from_stored({"audience": "nobody"}).restrictions == []  # older versions


@pytest.mark.parametrize(
    ("restrictions", "complaint"),
    [
        (["never!"], "does not say what is forbidden"),
        (["no"], "does not say what is forbidden"),
        (["never drinking\x00 alcohol"], "does not say what is forbidden"),
        (["no smoking", "No  Smoking"], "list each restriction once"),
        (["never " + "x" * 200], "at most 200 characters"),
        ([f"never topic {n}" for n in range(MAX_RESTRICTIONS + 1)], "at most 10 items"),
    ],
)
def test_a_restriction_that_says_nothing_or_too_much_is_refused(restrictions, complaint):
    with pytest.raises(ValidationError, match=complaint):
        PolicyDocument(restrictions=restrictions)


RESTRICTED = OPEN | {"restrictions": ["never drinking alcohol", "no smoking"]}


def test_a_broken_restriction_denies_quoting_the_owners_words():
    restricted = asset(document=RESTRICTED)
    broken = {"never drinking alcohol": "it reads like \u201cdrinking alcohol\u201d"}
    decision = decide(request(broken=broken), restricted)
    assert decision.outcome == ClearanceOutcome.denied
    (judged,) = decision.assets
    assert [reason.code for reason in judged.reasons] == [ReasonCode.restriction_broken]
    assert judged.reasons[0].text == (
        f"@{restricted.handle}'s owner does not allow \u201cnever drinking alcohol\u201d, and "
        "this prompt breaks it: it reads like \u201cdrinking alcohol\u201d."
    )


def test_a_restriction_of_another_policy_does_not_deny():
    # The prompt breaks "no smoking", which only the other asset's owner wrote.
    unrestricted, restricted = asset(), asset(document=RESTRICTED)
    decision = decide(request(broken={"no smoking": "it reads like it"}), unrestricted, restricted)
    outcomes = {judged.asset_id: judged.outcome for judged in decision.assets}
    assert outcomes == {unrestricted.id: AssetOutcome.allow, restricted.id: AssetOutcome.deny}


def test_a_requester_never_reads_the_restrictions_of_a_face_not_consented_to_them():
    # Privacy: the owner's words would tell a stranger whose face this is.
    face = asset(
        document={**RESTRICTED, "audience": "listed", "listed_accounts": [str(uuid.uuid4())]},
        kind=AssetKind.likeness,
    )
    decision = decide(request(broken={"never drinking alcohol": "it reads like it"}), face)
    (judged,) = decision.assets
    assert any(reason.code == ReasonCode.restriction_broken for reason in judged.reasons)
    assert judged.requester_reasons == (NOT_CONSENTED,)
