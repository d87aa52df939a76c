"""Clearing a request once the scans found what it touches: the decision under the owners'
policies, the stored record each owner sees, approvals, and what the requester is told."""

import threading
import uuid
from datetime import date

from factories import PASSWORD, create_asset, grant, set_policy, sign_up
from sqlmodel import Session, select

from clearhouse.accounts.models import Account
from clearhouse.db import utcnow, write_session
from licensing.clearance import (
    ClearanceRequest,
    RestrictionReading,
    ScannedRequest,
    Touch,
    clear,
)
from licensing.digest import request_digest
from licensing.models import Clearance, ClearedAsset, UseApproval
from licensing.presentation import clearance_for_requester
from licensing.quote import GenerationParameters
from licensing.tokens import verify_clearance_token
from notifications.kinds import NoticeKind
from notifications.models import Notice
from policies.decisions import AssetOutcome, ClearanceOutcome, ReasonCode
from policies.document import Use

USD_POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "price": {"currency": "USD", "per_use_minor": 150, "per_second_minor": 10},
}
PARAMETERS = {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20}


def _request(prompt: str = "a comet captain over the sea", use: Use = Use.commercial):
    return ClearanceRequest(
        prompt=prompt,
        declared_use=use,
        parameters=PARAMETERS,
        generation=GenerationParameters(**PARAMETERS),
        declared_content=frozenset(),
        digest=request_digest(
            prompt=prompt, declared_use=use.value, parameters=PARAMETERS, input_media_sha256=[]
        ),
    )


def _clear(
    client,
    requester,
    touched: list[dict],
    request: ClearanceRequest | None = None,
    *,
    settings=None,
):
    with write_session(client.app.state.engine) as session:
        return _clear_in(session, client, requester, touched, request, settings=settings)


def _clear_in(session, client, requester, touched, request=None, *, settings=None):
    """Clearing in ``session``'s write transaction, left open."""
    app = client.app
    request = request or _request()
    matching = app.state.matching
    # The touches are given here; the prompt's own reading is the text check's.
    checked = matching.check_text(session, request.prompt)
    scanned = ScannedRequest(
        touches=[
            Touch(uuid.UUID(asset["id"]), {"kind": "name", "score": 1.0, "span": [2, 7]})
            for asset in touched
        ],
        content=[],
        protected=[],
        restrictions=RestrictionReading(
            check=matching.restrictions, embedding=checked.embedding, content=checked.content
        ),
    )
    return clear(
        session,
        requester=session.get(Account, requester.id),
        request=request,
        scanned=scanned,
        now=utcnow(),
        settings=settings or app.state.settings,
        keys=app.state.keys,
    )


def _licensed(client, holder, policy=USD_POLICY, kind="character"):
    asset = create_asset(client, holder, kind=kind)
    set_policy(client, holder, asset["id"], policy)
    return asset, grant(client, holder, asset["id"])


def test_a_granted_asset_is_cleared_priced_signed_and_recorded(client, holder, requester):
    asset, created = _licensed(client, holder)
    result = _clear(client, requester, [asset])

    assert result.decision.outcome == ClearanceOutcome.cleared
    claims = verify_clearance_token(
        result.token,
        request_digest=_request().digest,
        now=utcnow(),
        settings=client.app.state.settings,
        keys=client.app.state.keys,
    )
    [relied] = claims.relied_on
    assert str(relied.grant_id) == created["grant"]["id"]
    assert claims.total_minor == result.quote.total_minor
    # compute 4 s x 20 steps x 1 (480p) + 150 per use + 4 s x 10
    assert result.quote.total_minor == 80 + 150 + 40
    with Session(client.app.state.engine) as session:
        stored = session.get(Clearance, result.clearance.id)
        [cleared] = session.exec(
            select(ClearedAsset).where(ClearedAsset.clearance_id == stored.id)
        ).all()
    assert stored.outcome == ClearanceOutcome.cleared
    assert cleared.outcome == AssetOutcome.allow
    assert str(cleared.grant_id) == created["grant"]["id"]
    assert str(cleared.policy_version_id) == str(relied.policy_version_id)
    assert cleared.policy_version_id is not None
    assert cleared.fee_minor == 190


def test_an_asset_without_consent_is_denied_and_nothing_is_signed(client, holder, requester):
    asset = create_asset(client, holder)
    result = _clear(client, requester, [asset])
    assert result.decision.outcome == ClearanceOutcome.denied
    assert result.token is None
    assert any("has not consented" in reason for reason in result.clearance.reasons)


def test_a_revoked_grant_denies(client, holder, requester):
    asset, created = _licensed(client, holder)
    revoked = client.post(
        f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={}
    )
    assert revoked.status_code == 200, revoked.text
    assert _clear(client, requester, [asset]).decision.outcome == ClearanceOutcome.denied


def test_a_face_without_consent_is_not_named_to_the_requester(client, holder, requester):
    likeness = create_asset(client, holder, kind="likeness")
    verified = {uuid.UUID(likeness["id"])}  # verified by enrolment, yet not said of a stranger
    shown = clearance_for_requester(_clear(client, requester, [likeness]), verified=verified)
    [touched] = shown.assets
    assert touched.asset_id is None and touched.handle is None
    assert touched.holder_verified is None
    assert touched.reasons == ["The request shows a registered person who has not consented."]
    assert all("score" not in evidence for evidence in touched.matched_by)
    assert likeness["handle"] not in shown.model_dump_json()
    assert likeness["id"] not in shown.model_dump_json()


def test_a_granted_face_is_named_and_priced(client, holder, requester):
    likeness, _ = _licensed(client, holder, kind="likeness")
    verified = {uuid.UUID(likeness["id"])}
    shown = clearance_for_requester(_clear(client, requester, [likeness]), verified=verified)
    assert shown.outcome == ClearanceOutcome.cleared
    assert shown.assets[0].holder_verified is True
    assert str(shown.assets[0].asset_id) == likeness["id"]
    assert any(line.asset_id == uuid.UUID(likeness["id"]) for line in shown.quote.lines)


def test_owners_see_every_request_that_touched_their_asset(client, holder, requester):
    asset, _ = _licensed(client, holder)
    unconsented = create_asset(client, holder)
    _clear(client, requester, [asset])
    _clear(client, requester, [asset, unconsented])
    usage = client.get(f"/v1/assets/{asset['id']}/usage", headers=holder.headers).json()
    assert usage["total"] == 2
    assert [use["clearance_outcome"] for use in usage["items"]] == ["denied", "cleared"]
    assert all(use["requester_id"] == str(requester.id) for use in usage["items"])
    denied = client.get(
        f"/v1/assets/{unconsented['id']}/usage?outcome=deny", headers=holder.headers
    ).json()
    assert denied["total"] == 1 and denied["items"][0]["reasons"][0]["code"] == "no_grant"


def test_nobody_else_reads_an_assets_usage(client, holder, requester):
    asset, _ = _licensed(client, holder)
    _clear(client, requester, [asset])
    other = sign_up(client)
    for reader in (other, requester):
        read = client.get(f"/v1/assets/{asset['id']}/usage", headers=reader.headers)
        assert read.status_code in (403, 404), read.text


APPROVAL_POLICY = {**USD_POLICY, "approval_required": True}


def test_an_approval_clears_exactly_the_request_it_names(client, holder, requester):
    asset, _ = _licensed(client, holder, APPROVAL_POLICY)
    waiting = _clear(client, requester, [asset])
    assert waiting.decision.outcome == ClearanceOutcome.needs_approval
    assert waiting.token is None

    queue = client.get("/v1/approvals", headers=holder.headers).json()
    [pending] = queue["items"]
    assert pending["clearance_id"] == str(waiting.clearance.id)
    assert pending["prompt"] == _request().prompt
    # The requester asks again before the answer: still one entry in the owner's queue.
    _clear(client, requester, [asset])
    assert client.get("/v1/approvals", headers=holder.headers).json()["total"] == 1

    approved = client.post(f"/v1/approvals/{pending['id']}/approve", headers=holder.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    again = client.post(f"/v1/approvals/{pending['id']}/decline", headers=holder.headers)
    assert again.status_code == 409, again.text

    assert _clear(client, requester, [asset]).decision.outcome == ClearanceOutcome.cleared
    other_prompt = _request("a comet captain over the mountains")
    assert (
        _clear(client, requester, [asset], other_prompt).decision.outcome
        == ClearanceOutcome.needs_approval
    )


def test_the_same_request_sent_twice_at_once_waits_for_the_owner_once(client, holder, requester):
    asset, _ = _licensed(client, holder, APPROVAL_POLICY)
    second = []
    asking = threading.Thread(target=lambda: second.append(_clear(client, requester, [asset])))
    with write_session(client.app.state.engine) as session:
        first = _clear_in(session, client, requester, [asset])
        # The same request again while the first's transaction is still open: time for it to
        # read the queue (and, unprotected, to ask too) before the first commits.
        asking.start()
        asking.join(timeout=3)
    asking.join(timeout=60)

    assert [first.decision.outcome, second[0].decision.outcome] == [
        ClearanceOutcome.needs_approval
    ] * 2
    with Session(client.app.state.engine) as session:
        queued = session.exec(select(UseApproval)).all()
        asked = session.exec(
            select(Notice).where(Notice.kind == NoticeKind.approval_pending.value)
        ).all()
    assert len(queued) == 1
    assert len(asked) == 1


def test_an_approval_for_one_use_does_not_clear_another(client, holder, requester):
    asset, _ = _licensed(client, holder, APPROVAL_POLICY)
    _clear(client, requester, [asset], _request(use=Use.personal))
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    assert pending["declared_use"] == "personal"
    client.post(f"/v1/approvals/{pending['id']}/approve", headers=holder.headers)

    commercial = _clear(client, requester, [asset], _request(use=Use.commercial))
    assert commercial.decision.outcome == ClearanceOutcome.needs_approval
    personal = _clear(client, requester, [asset], _request(use=Use.personal))
    assert personal.decision.outcome == ClearanceOutcome.cleared
    claims = verify_clearance_token(
        personal.token,
        request_digest=_request(use=Use.personal).digest,
        now=utcnow(),
        settings=client.app.state.settings,
        keys=client.app.state.keys,
    )
    assert claims.declared_use == Use.personal


def test_a_declined_request_stays_uncleared(client, holder, requester):
    asset, _ = _licensed(client, holder, APPROVAL_POLICY)
    _clear(client, requester, [asset])
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    declined = client.post(f"/v1/approvals/{pending['id']}/decline", headers=holder.headers)
    assert declined.json()["status"] == "declined"
    assert _clear(client, requester, [asset]).decision.outcome != ClearanceOutcome.cleared


def test_a_deleted_requesters_requests_leave_the_owners_queue(client, holder, requester):
    asset, _ = _licensed(client, holder, APPROVAL_POLICY)
    _clear(client, requester, [asset])
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    deleted = client.post(
        "/v1/accounts/me/deletion", headers=requester.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text

    assert client.get("/v1/approvals?status=pending", headers=holder.headers).json()["total"] == 0
    approved = client.post(f"/v1/approvals/{pending['id']}/approve", headers=holder.headers)
    assert approved.status_code == 409, approved.text


def test_nobody_else_answers_an_owners_approvals(client, holder, requester):
    asset, _ = _licensed(client, holder, APPROVAL_POLICY)
    _clear(client, requester, [asset])
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    other = sign_up(client)
    assert client.get("/v1/approvals", headers=other.headers).json()["total"] == 0
    for who in (other, requester):
        answer = client.post(f"/v1/approvals/{pending['id']}/approve", headers=who.headers)
        assert answer.status_code in (403, 404), answer.text


def test_an_assets_daily_limit_counts_its_uses_so_far(client, holder, requester):
    asset, _grant = _licensed(client, holder, policy={**USD_POLICY, "daily_use_limit": 2})
    outcomes = [
        _clear(client, requester, [asset], _request(f"a comet captain, take {n}")).decision
        for n in range(3)
    ]

    assert [d.outcome for d in outcomes] == [ClearanceOutcome.cleared] * 2 + [
        ClearanceOutcome.denied
    ]
    assert [r.code for r in outcomes[2].assets[0].reasons] == [ReasonCode.daily_limit_reached]


def test_a_minor_is_refused_past_the_daily_generation_limit(client):
    minor = sign_up(client, role="creator", born=date(date.today().year - 15, 1, 1))
    limited = client.app.state.settings.model_copy(update={"minor_daily_generation_limit": 2})
    decisions = [
        _clear(client, minor, [], _request(f"a quiet harbour, take {n}"), settings=limited).decision
        for n in range(3)
    ]

    assert [d.outcome for d in decisions] == [ClearanceOutcome.cleared] * 2 + [
        ClearanceOutcome.denied
    ]
    assert [r.code for r in decisions[2].request_reasons] == [ReasonCode.minor_daily_limit_reached]
