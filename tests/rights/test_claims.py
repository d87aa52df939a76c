"""Claims through the API: an owner submits evidence (a registration number, a link, a
document), staff list, read and decide it; another owner's claim is a 404, staff routes refuse
everyone else, and every step is in the asset's audit log."""

import json

import pytest
from claiming import STATEMENT, decide, moderator, submit_claim
from factories import (
    create_asset,
    promote,
    refused_as_unverified,
    sign_up,
    unverified_holder_of,
    verify_again,
)
from organising import add, character_of, organisation

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _put_document(client, user, asset_id: str, data: bytes, name: str = "certificate.pdf"):
    evidence = json.dumps({"evidence_kind": "document", "statement": STATEMENT})
    return client.put(
        f"/v1/assets/{asset_id}/claim",
        headers=user.headers,
        files=[
            ("evidence", (None, evidence, "application/json")),
            ("document", (name, data, "application/octet-stream")),
        ],
    )


@pytest.fixture
def character(client, holder) -> dict:
    return create_asset(client, holder, kind="character")


def _audit_actions(client, user, asset_id: str) -> list[str]:
    audit = client.get(f"/v1/assets/{asset_id}/audit", headers=user.headers).json()
    return [entry["action"] for entry in audit["items"]]


def test_an_unclaimed_character_is_unclaimed_and_a_likeness_is_verified_by_enrolment(
    client, holder, character
):
    read = client.get(f"/v1/assets/{character['id']}/claim", headers=holder.headers).json()
    assert (read["standing"], read["claim"]) == ("unclaimed", None)
    likeness = create_asset(client, holder, kind="likeness")
    read = client.get(f"/v1/assets/{likeness['id']}/claim", headers=holder.headers).json()
    assert read["standing"] == "verified"
    refused = client.put(
        f"/v1/assets/{likeness['id']}/claim",
        headers=holder.headers,
        json={"evidence_kind": "link", "reference": "https://example.org", "statement": STATEMENT},
    )
    assert refused.status_code == 400 and "enrolment" in refused.json()["detail"]


def test_a_document_is_kept_and_read_back_by_its_owner_and_staff_only(
    client, session, holder, other_holder, character
):
    submitted = _put_document(client, holder, character["id"], PDF)
    assert submitted.status_code == 200, submitted.text
    claim = submitted.json()["claim"]
    assert (claim["status"], claim["document"]["content_type"]) == ("pending", "application/pdf")
    own = client.get(f"/v1/assets/{character['id']}/claim/document", headers=holder.headers)
    assert (own.status_code, own.content) == (200, PDF)
    staff = moderator(client, session)
    read = client.get(f"/v1/claims/{claim['id']}/document", headers=staff.headers)
    assert (read.status_code, read.content, read.headers["content-type"]) == (
        200,
        PDF,
        "application/pdf",
    )
    for url in (
        f"/v1/assets/{character['id']}/claim/document",
        f"/v1/claims/{claim['id']}/document",
    ):
        assert client.get(url, headers=other_holder.headers).status_code in (403, 404)


def test_a_document_that_is_not_a_pdf_png_or_jpeg_is_refused_and_nothing_is_kept(
    client, holder, character
):
    refused = _put_document(client, holder, character["id"], b"MZ\x90\x00 not a document")
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert "PDF, PNG or JPEG" in refused.json()["detail"]
    read = client.get(f"/v1/assets/{character['id']}/claim", headers=holder.headers).json()
    assert read["claim"] is None


def test_an_unverified_address_submits_no_claim_and_staff_see_none(client, engine, session):
    """A claim goes to staff and, verified, protects and earns against everyone else: anyone
    can sign up with an address that is not theirs, so only a verified one submits evidence."""
    unverified, character = unverified_holder_of(client, engine, kind="character")
    body = {"evidence_kind": "link", "reference": "https://example.org/tm", "statement": STATEMENT}
    url = f"/v1/assets/{character['id']}/claim"
    refused_as_unverified(client.put(url, headers=unverified.headers, json=body))
    refused_as_unverified(_put_document(client, unverified, character["id"], PDF))
    read = client.get(url, headers=unverified.headers).json()
    assert (read["standing"], read["claim"]) == ("unclaimed", None)
    staff = moderator(client, session)
    assert client.get("/v1/claims", headers=staff.headers).json()["total"] == 0
    assert "claim.submitted" not in _audit_actions(client, unverified, character["id"])

    verify_again(client, unverified)
    submitted = client.put(url, headers=unverified.headers, json=body)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["claim"]["status"] == "pending"
    assert client.get("/v1/claims", headers=staff.headers).json()["total"] == 1


@pytest.mark.parametrize(
    "evidence",
    [
        {"evidence_kind": "link", "reference": "http://example.org/mark"},
        {"evidence_kind": "link", "reference": "https://"},
        {"evidence_kind": "trademark_registration"},
        {"evidence_kind": "link", "reference": "https://example.org", "statement": "short"},
    ],
)
def test_malformed_evidence_is_a_422(client, holder, character, evidence):
    body = {"statement": STATEMENT, **evidence}
    response = client.put(f"/v1/assets/{character['id']}/claim", headers=holder.headers, json=body)
    assert response.status_code == 422


def test_another_owner_can_neither_read_nor_replace_the_claim(
    client, holder, other_holder, character
):
    submit_claim(client, holder, character["id"])
    url = f"/v1/assets/{character['id']}/claim"
    read = client.get(url, headers=other_holder.headers)
    assert read.status_code == 404
    assert "US 9,876,543" not in read.text
    replaced = client.put(
        url,
        headers=other_holder.headers,
        json={
            "evidence_kind": "link",
            "reference": "https://squat.example",
            "statement": STATEMENT,
        },
    )
    assert replaced.status_code == 404
    kept = client.get(url, headers=holder.headers).json()["claim"]
    assert kept["reference"] == "US 9,876,543"


def test_only_staff_list_read_and_decide_claims(client, holder, other_holder, character):
    claim = submit_claim(client, holder, character["id"])["claim"]
    creator = sign_up(client, role="creator")
    for user in (holder, other_holder, creator):
        assert client.get("/v1/claims", headers=user.headers).status_code == 403
        assert client.get(f"/v1/claims/{claim['id']}", headers=user.headers).status_code == 403
        decided = client.post(
            f"/v1/claims/{claim['id']}/decision",
            headers=user.headers,
            json={"decision": "verify", "reason": "me"},
        )
        assert decided.status_code == 403
    read = client.get(f"/v1/assets/{character['id']}/claim", headers=holder.headers).json()
    assert read["standing"] == "pending"


def test_staff_page_through_pending_claims_and_decide_them_once_audited(
    client, session, holder, character
):
    staff = moderator(client, session)
    others = [create_asset(client, holder, kind="style") for _ in range(2)]
    claims = [submit_claim(client, holder, a["id"])["claim"] for a in [character, *others]]
    first = client.get("/v1/claims", params={"limit": 2}, headers=staff.headers).json()
    second = client.get(
        "/v1/claims", params={"limit": 2, "offset": 2}, headers=staff.headers
    ).json()
    mine = {claim["id"] for claim in claims}
    listed = [item["id"] for item in first["items"] + second["items"] if item["id"] in mine]
    assert listed == [claim["id"] for claim in claims]  # oldest first

    verified = decide(client, staff, claims[0]["id"], "verify", "USPTO record matches")
    assert verified["status"] == "verified"
    again = client.post(
        f"/v1/claims/{claims[0]['id']}/decision",
        headers=staff.headers,
        json={"decision": "reject", "reason": "second thoughts"},
    )
    assert again.status_code == 409
    pending = client.get("/v1/claims", params={"limit": 100}, headers=staff.headers).json()
    assert claims[0]["id"] not in {item["id"] for item in pending["items"]}
    assert _audit_actions(client, holder, character["id"])[-2:] == [
        "claim.submitted",
        "claim.verified",
    ]
    # A verified claim's evidence stays as it was.
    refused = client.put(
        f"/v1/assets/{character['id']}/claim",
        headers=holder.headers,
        json={"evidence_kind": "link", "reference": "https://example.org", "statement": STATEMENT},
    )
    assert refused.status_code == 409


def test_a_rejected_claim_says_why_and_new_evidence_opens_it_again(
    client, session, holder, character
):
    staff = moderator(client, session)
    claim = submit_claim(client, holder, character["id"])["claim"]
    decide(client, staff, claim["id"], "reject", "no such registration")
    read = client.get(f"/v1/assets/{character['id']}/claim", headers=holder.headers).json()
    assert (read["standing"], read["claim"]["decision_reason"]) == (
        "rejected",
        "no such registration",
    )
    again = submit_claim(
        client, holder, character["id"], evidence_kind="link", reference="https://tm.example/1"
    )
    assert (again["standing"], again["claim"]["decision_reason"]) == ("pending", None)
    [told] = [
        n
        for n in client.get("/v1/notices", headers=holder.headers).json()["items"]
        if n["kind"] == "claim.decided"
    ]
    assert (told["facts"]["decision"], told["facts"]["reason"]) == (
        "rejected",
        "no such registration",
    )
    assert _audit_actions(client, holder, character["id"])[-3:] == [
        "claim.submitted",
        "claim.rejected",
        "claim.submitted",
    ]


def test_nobody_decides_their_own_claim(client, session, character, holder):
    claim = submit_claim(client, holder, character["id"])["claim"]
    promoted = promote(session, holder, "admin")  # admins hold assets and are staff
    response = client.post(
        f"/v1/claims/{claim['id']}/decision",
        headers=promoted.headers,
        json={"decision": "verify", "reason": "mine"},
    )
    assert response.status_code == 409


def test_staff_in_the_holding_organisation_do_not_decide_its_claim(client, session, holder):
    """An organisation's asset earns for its members: a moderator among them (in any role) is
    a party to its claim, as to a dispute about it, though another member sent the evidence."""
    studio = organisation(client, holder)
    insider = moderator(client, session)
    add(client, holder, studio, insider, "viewer")
    asset = character_of(client, holder, studio, name="Studio Hero")
    claim = submit_claim(client, holder, asset["id"])["claim"]

    inside = client.post(
        f"/v1/claims/{claim['id']}/decision",
        headers=insider.headers,
        json={"decision": "verify", "reason": "ours"},
    )
    assert inside.status_code == 409, inside.text
    assert inside.json()["type"].endswith("party-to-claim")
    assert decide(client, moderator(client, session), claim["id"], "verify")["status"] == "verified"
