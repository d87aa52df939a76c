"""Disputes through the API: any account opens one about a live asset, its holder answers
before the deadline, both parties and staff write in its thread and nobody else sees it
(404); staff decide it, never a party (403). Upheld, the asset's clearances deny and its held
shares go back to the creators; dismissed, they are paid in. Every step is audited and
noticed."""

import json
import uuid
from datetime import timedelta

import pytest
from claiming import moderator, verified
from clearing import clear
from factories import (
    granted_asset,
    promote,
    refused_as_unverified,
    sign_up,
    unverified_holder_of,
    verify_again,
    verify_email,
)
from sqlmodel import Session, col, select
from stating import LicenceTerms, release

from audit.models import AuditEntry
from clearhouse.db import snapshot_session, utcnow
from payouts.accounts import held, payable, wallet
from payouts.balances import balance_of, check_ledger
from policies.models import PolicyVersion
from rights.disputes.models import Dispute, DisputeMessage
from rights.models import ConsentGrant

STATEMENT = "This character is a copy of the one our studio published in 2015."
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "price": {"currency": "USD", "per_use_minor": 1000},
}


@pytest.fixture
def character(client, holder) -> dict:
    asset, _ = granted_asset(client, holder, policy=POLICY, name=f"Disputed {uuid.uuid4().hex[:8]}")
    return asset


def _open(client, user, asset: dict, **fields):
    body = {
        "asset_handle": f"@{asset['handle']}",
        "kind": "improper_registration",
        "statement": STATEMENT,
        "link": "https://studio.example/published",
        **fields,
    }
    return client.post("/v1/disputes", headers=user.headers, json=body)


def _opened(client, user, asset: dict, **fields) -> dict:
    answer = _open(client, user, asset, **fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _post(client, user, dispute: dict, path: str, **body):
    return client.post(f"/v1/disputes/{dispute['id']}/{path}", headers=user.headers, json=body)


def _decide(client, staff, dispute: dict, decision: str):
    return _post(client, staff, dispute, "decision", decision=decision, reason="checked it")


def _overdue(client, dispute: dict) -> None:
    """The holder's answer deadline passed (as if ``dispute_answer_days`` had gone by)."""
    with Session(client.app.state.engine) as session:
        row = session.get(Dispute, uuid.UUID(dispute["id"]))
        row.answer_due_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()


def _kinds(client, user) -> list[str]:
    notices = client.get("/v1/notices", headers=user.headers).json()["items"]
    return sorted(n["kind"] for n in notices if n["kind"].startswith("dispute."))


def test_a_dispute_goes_open_answered_upheld_and_only_its_parties_see_it(
    client, session, holder, character, settings
):
    opener = sign_up(client, role="creator")
    dispute = _opened(client, opener, character)
    assert (dispute["status"], dispute["your_side"]) == ("open", "opener")
    due = dispute["answer_due_at"]
    assert due.startswith(
        (utcnow() + timedelta(days=settings.dispute_answer_days)).date().isoformat()
    )

    staff = moderator(client, session)
    early = _decide(client, staff, dispute, "uphold")
    assert early.status_code == 409 and early.json()["type"].endswith("dispute-not-decidable")
    assert _post(client, opener, dispute, "answer", body="I answer myself").status_code == 409

    answered = _post(client, holder, dispute, "answer", body="We drew it ourselves in 2014.")
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    said = _post(client, opener, dispute, "messages", body="Our sketches are dated 2013.")
    assert said.status_code == 200, said.text
    assert _post(client, staff, dispute, "messages", body="Send the sketches.").status_code == 200

    # Both parties read the whole thread, by side, and neither the other's account.
    for user, side in ((holder, "holder"), (opener, "opener")):
        read = client.get(f"/v1/disputes/{dispute['id']}", headers=user.headers)
        assert read.status_code == 200, read.text
        thread = read.json()
        assert thread["your_side"] == side
        assert [(m["side"], m["is_answer"]) for m in thread["messages"]] == [
            ("holder", True),
            ("opener", False),
            ("staff", False),
        ]
        mine = client.get("/v1/disputes", headers=user.headers).json()["items"]
        assert [d["id"] for d in mine] == [dispute["id"]]
    holder_view = client.get(f"/v1/disputes/{dispute['id']}", headers=holder.headers).text
    assert str(opener.id) not in holder_view and opener.email not in holder_view

    # Anyone else: as if it did not exist.
    stranger = sign_up(client)
    for path in ("", "/document"):
        assert (
            client.get(f"/v1/disputes/{dispute['id']}{path}", headers=stranger.headers).status_code
            == 404
        )
    for path, body in (("messages", "let me in"), ("answer", "let me in")):
        assert _post(client, stranger, dispute, path, body=body).status_code == 404
    assert client.get("/v1/disputes", headers=stranger.headers).json()["items"] == []

    upheld = _decide(client, staff, dispute, "uphold")
    assert upheld.status_code == 200, upheld.text
    assert (upheld.json()["status"], upheld.json()["decision_reason"]) == ("upheld", "checked it")
    assert _decide(client, staff, dispute, "dismiss").status_code == 409
    closed = _post(client, opener, dispute, "messages", body="thank you")
    assert closed.status_code == 409 and closed.json()["type"].endswith("dispute-closed")

    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.asset_id == uuid.UUID(character["id"]))
    ).all()
    for action in (
        "dispute.opened",
        "dispute.answered",
        "dispute.message",
        "dispute.upheld",
    ):
        assert action in actions
    # Each party hears of every step the other party or staff took.
    assert _kinds(client, holder) == [
        "dispute.decided",
        "dispute.message",
        "dispute.message",
        "dispute.opened",
    ]
    assert _kinds(client, opener) == ["dispute.answered", "dispute.decided", "dispute.message"]
    assert _kinds(client, stranger) == []


def _stored(engine, asset: dict) -> tuple[int, int, list[str]]:
    """What a dispute about ``asset`` left: its disputes, its thread's messages, its audit."""
    asset_id = uuid.UUID(asset["id"])
    with Session(engine) as session:
        return _stored_in(session, asset_id)


def _stored_in(session, asset_id: uuid.UUID) -> tuple[int, int, list[str]]:
    disputes = session.exec(select(Dispute).where(Dispute.asset_id == asset_id)).all()
    messages = session.exec(
        select(DisputeMessage).where(
            col(DisputeMessage.dispute_id).in_([dispute.id for dispute in disputes])
        )
    ).all()
    actions = session.exec(select(AuditEntry.action).where(AuditEntry.asset_id == asset_id)).all()
    return len(disputes), len(messages), sorted(a for a in actions if a.startswith("dispute."))


def test_an_unverified_address_opens_no_dispute_and_writes_nothing_in_one(
    client, engine, holder, character
):
    """A dispute reaches another person (its holder, told at once): anyone can sign up with an
    address that is not theirs, so only a verified one opens a dispute, answers or writes."""
    squatter = sign_up(client, role="creator", verified=False)
    refused_as_unverified(_open(client, squatter, character))
    assert _stored(engine, character) == (0, 0, [])
    assert _kinds(client, holder) == []

    verify_email(client, squatter.email)
    _opened(client, squatter, character)
    assert _kinds(client, holder) == ["dispute.opened"]

    # The disputed asset's holder, unverified, neither answers nor writes in the thread.
    unverified_holder, theirs = unverified_holder_of(
        client, engine, name=f"Unverified {uuid.uuid4().hex[:8]}"
    )
    against = _opened(client, squatter, theirs)
    notices_before = _kinds(client, squatter)
    for path in ("answer", "messages"):
        refused_as_unverified(
            _post(client, unverified_holder, against, path, body="It is ours, honestly.")
        )
    assert _stored(engine, theirs) == (1, 0, ["dispute.opened"])
    assert _kinds(client, squatter) == notices_before
    assert (
        client.get(f"/v1/disputes/{against['id']}", headers=unverified_holder.headers).json()[
            "status"
        ]
        == "open"
    )

    verify_again(client, unverified_holder)
    answered = _post(client, unverified_holder, against, "answer", body="We drew it in 2014.")
    assert answered.status_code == 200, answered.text
    said = _post(client, unverified_holder, against, "messages", body="Sketches attached.")
    assert said.status_code == 200, said.text
    assert [m["is_answer"] for m in said.json()["messages"]] == [True, False]


def test_after_the_deadline_the_holder_cannot_answer_and_staff_decide_unanswered(
    client, session, holder, character
):
    opener = sign_up(client)
    dispute = _opened(client, opener, character, kind="content_standards", link=None)
    _overdue(client, dispute)
    late = _post(client, holder, dispute, "answer", body="Sorry, I was away.")
    assert late.status_code == 409 and "staff may decide without it" in late.json()["detail"]
    # A message still reaches the thread.
    assert _post(client, holder, dispute, "messages", body="I was away.").status_code == 200
    dismissed = _decide(client, moderator(client, session), dispute, "dismiss")
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    shown = client.get(f"/v1/assets/{character['id']}", headers=holder.headers).json()
    assert shown["standing"] == "active"


def test_nobody_decides_a_dispute_they_are_party_to(client, session, holder, character):
    staff_opener = moderator(client, session)
    opened_by_staff = _opened(client, staff_opener, character)
    _overdue(client, opened_by_staff)
    refused = _decide(client, staff_opener, opened_by_staff, "uphold")
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("party-to-dispute")

    promote(session, holder, "moderator")  # the holder is staff too
    assert _decide(client, holder, opened_by_staff, "dismiss").status_code == 403
    # A member of staff who is not a party decides it.
    assert (
        _decide(client, moderator(client, session), opened_by_staff, "dismiss").status_code == 200
    )
    with Session(client.app.state.engine) as db:
        assert db.get(Dispute, uuid.UUID(opened_by_staff["id"])).status == "dismissed"


def test_the_holder_cannot_dispute_their_own_asset_and_evidence_is_checked(
    client, holder, character
):
    own = _open(client, holder, character)
    assert own.status_code == 400 and own.json()["type"].endswith("dispute-own-asset")
    opener = sign_up(client)
    for link in ("http://plain.example", "https://", "https:///no-host", "https://a b.example"):
        assert _open(client, opener, character, link=link).status_code == 422, link
    assert _open(client, opener, character, kind="theft").status_code == 422
    assert _open(client, opener, {"handle": "nobody_has_this"}).status_code == 404
    opening = {"asset_handle": character["handle"], "kind": "improper_use", "statement": STATEMENT}
    files = [("opening", (None, json.dumps(opening), "application/json"))]
    gif = client.post(
        "/v1/disputes",
        headers=opener.headers,
        files=[*files, ("document", ("proof.gif", b"GIF89a nope", "image/gif"))],
    )
    assert gif.status_code == 400 and "PDF, PNG or JPEG" in gif.json()["detail"]
    assert client.get("/v1/disputes", headers=opener.headers).json()["total"] == 0
    sent = client.post(
        "/v1/disputes",
        headers=opener.headers,
        files=[*files, ("document", ("proof.pdf", PDF, "application/pdf"))],
    )
    assert sent.status_code == 201, sent.text
    dispute = sent.json()
    assert dispute["document"]["content_type"] == "application/pdf"
    for user in (opener, holder):
        document = client.get(f"/v1/disputes/{dispute['id']}/document", headers=user.headers)
        assert (document.status_code, document.content) == (200, PDF)


def test_an_account_opens_so_many_disputes_an_hour_and_no_more(settings, holder, character):
    """Each dispute tells the holder and holds their earnings: past the hourly limit an
    account's openings are refused (429, Retry-After) and nothing is opened or told."""
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app

    with TestClient(
        create_app(settings.model_copy(update={"dispute_limit_per_hour": 2}))
    ) as client:
        opener = sign_up(client, role="creator")
        assert [_open(client, opener, character).status_code for _ in range(3)] == [201, 201, 429]
        refused = _open(client, opener, character)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        assert "may open within an hour (2)" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 3500
        assert client.get("/v1/disputes", headers=opener.headers).json()["total"] == 2
        assert _kinds(client, holder) == ["dispute.opened", "dispute.opened"]
        # Another account's openings are counted apart.
        assert _open(client, sign_up(client), character).status_code == 201


def _terms(engine, holder, asset: dict) -> LicenceTerms:
    with Session(engine) as session:
        grant = session.exec(
            select(ConsentGrant).where(ConsentGrant.asset_id == uuid.UUID(asset["id"]))
        ).one()
        share = session.get(PolicyVersion, grant.policy_version_id).revenue_share_bps
    return LicenceTerms(
        uuid.UUID(asset["id"]), grant.id, grant.policy_version_id, holder.id, 1000, share
    )


def _money(engine, holder, creator) -> tuple[int, int, int]:
    with snapshot_session(engine) as session:
        check = check_ledger(session)
        assert check.ok, check
        return (
            balance_of(session, held(holder.id, "USD")),
            balance_of(session, payable(holder.id, "USD")),
            balance_of(session, wallet(creator.id, "USD")),
        )


def test_an_upheld_dispute_stops_clearance_and_gives_the_held_shares_back(
    client, engine, session, holder, character
):
    verified(client, session, holder, character["id"])
    terms = _terms(engine, holder, character)
    creator = sign_up(client, role="creator")
    release(engine, creator.id, terms, at=utcnow())
    _, earned, _ = _money(engine, holder, creator)
    assert earned > 0  # verified, no dispute: it earns

    dispute = _opened(client, sign_up(client), character)
    release(engine, creator.id, terms, at=utcnow())
    held_now, payable_now, wallet_now = _money(engine, holder, creator)
    assert (held_now, payable_now) == (earned, earned)  # held while the dispute is open

    _overdue(client, dispute)
    assert _decide(client, moderator(client, session), dispute, "uphold").status_code == 200
    assert _money(engine, holder, creator) == (0, earned, wallet_now + earned)

    # From now on: its clearances deny, saying why; it cannot be granted again.
    denied = clear(client, creator, f"{character['name']} waving at the camera")
    assert denied.status_code == 201, denied.text
    answer = denied.json()
    assert answer["outcome"] == "denied"
    (touched,) = answer["assets"]
    assert touched["asset_id"] == character["id"]
    assert "upheld a dispute" in str(touched["reasons"])
    shown = client.get(f"/v1/assets/{character['id']}", headers=holder.headers).json()
    assert shown["standing"] == "disputed"
    regrant = client.post(f"/v1/assets/{character['id']}/grants", headers=holder.headers, json={})
    assert regrant.status_code == 409 and "upheld a dispute" in regrant.json()["detail"]
    # A generation cleared before and released after: its share goes back at once.
    release(engine, creator.id, terms, at=utcnow())
    assert _money(engine, holder, creator)[:2] == (0, earned)


def test_a_dismissed_dispute_pays_in_what_it_held(client, engine, session, holder, character):
    verified(client, session, holder, character["id"])
    terms = _terms(engine, holder, character)
    creator = sign_up(client, role="creator")
    dispute = _opened(client, sign_up(client), character)
    release(engine, creator.id, terms, at=utcnow())
    share, _, _ = _money(engine, holder, creator)
    assert share > 0
    assert _post(client, holder, dispute, "answer", body="It is ours.").status_code == 200
    assert _decide(client, moderator(client, session), dispute, "dismiss").status_code == 200
    assert _money(engine, holder, creator)[:2] == (0, share)
    shown = client.get(f"/v1/assets/{character['id']}", headers=holder.headers).json()
    assert shown["standing"] == "active"
    # The holder's statement says what paid it in: the dismissal, not a claim's verification.
    month = utcnow().strftime("%Y-%m")
    [statement] = client.get(
        "/v1/statements", headers=holder.headers, params={"period": month}
    ).json()["statements"]
    [paid_in] = [line for line in statement["lines"] if line["event"] == "held_release"]
    assert f"dispute {dispute['id']} dismissed" in paid_in["memo"], paid_in["memo"]
