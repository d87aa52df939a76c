"""Webhooks as a customer's server sees them: a real HTTP receiver verifies every delivery with
the `standardwebhooks` library, sees each event once although its first attempt failed, and
refuses what was forged or replayed late; failing endpoints are disabled, and deliveries are
replayed from the log."""

import json
from datetime import timedelta

from factories import PASSWORD, sign_up
from noticing import tell
from sqlmodel import Session, select
from standardwebhooks import Webhook
from webhook_receiver import events, post_raw, register

from clearhouse.db import utcnow
from notifications.delivery import deliver_due
from notifications.endpoints import MAX_ENDPOINTS
from notifications.kinds import NoticeKind
from notifications.models import Notice


def deliveries(client, user, endpoint_id: str) -> list[dict]:
    answer = client.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_each_event_arrives_verified_and_once_though_its_first_attempt_failed(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    receiver.failing_first.add("/hooks")
    tell(engine, holder.id, NoticeKind.use_released, handle="captain", fee_minor=150)
    tell(engine, holder.id, NoticeKind.approval_pending, handle="captain")

    assert deliver_due(engine, settings=settings) == 0  # both answered 500
    assert [d["state"] for d in deliveries(client, holder, endpoint["id"])] == ["pending"] * 2
    assert deliver_due(engine, settings=settings) == 0  # not due yet: the pause after a failure
    later = utcnow() + timedelta(seconds=settings.webhook_retry_seconds)
    assert deliver_due(engine, settings=settings, now=later) == 2

    assert all(request.verified for request in receiver.received)
    assert len(receiver.received) == 4
    assert sorted(kind for kind, _ in events(receiver)) == ["approval.pending", "use.released"]
    released = dict(events(receiver))["use.released"]
    assert released["handle"] == "captain" and released["fee_minor"] == 150
    log = deliveries(client, holder, endpoint["id"])
    assert [(d["state"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("delivered", 2, 204)
    ] * 2
    # The retry was the same message: one webhook-id per event, on both attempts.
    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert len(set(ids)) == 2 and sorted(ids) == sorted([d["message_id"] for d in log] * 2)


def test_a_forged_or_stale_delivery_is_refused_by_the_library(
    client, holder, engine, settings, receiver
):
    register(client, holder, receiver, "/hooks")
    tell(engine, holder.id, NoticeKind.use_blocked, handle="captain")
    assert deliver_due(engine, settings=settings) == 1
    [genuine] = receiver.received
    secret = receiver.secrets["/hooks"]

    changed = json.loads(genuine.body)
    changed["data"]["handle"] = "someone_else"
    forged_body = json.dumps(changed).encode()
    assert post_raw(receiver.url("/hooks"), body=forged_body, headers=genuine.headers) == 400

    other_secret = Webhook("whsec_" + "A" * 43 + "=")
    now = utcnow()
    signed_elsewhere = {
        **genuine.headers,
        "webhook-id": "msg_forged",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": other_secret.sign("msg_forged", now, forged_body.decode()),
    }
    assert post_raw(receiver.url("/hooks"), body=forged_body, headers=signed_elsewhere) == 400

    an_hour_ago = now - timedelta(hours=1)
    stale = {
        **genuine.headers,
        "webhook-id": "msg_stale",
        "webhook-timestamp": str(int(an_hour_ago.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_stale", an_hour_ago, genuine.body.decode()),
    }
    assert post_raw(receiver.url("/hooks"), body=genuine.body, headers=stale) == 400

    assert [request.verified for request in receiver.received] == [True, False, False, False]
    assert list(receiver.accepted) == [genuine.headers["webhook-id"]]


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owner_told(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/down")
    receiver.down.add("/down")
    tell(engine, holder.id, NoticeKind.use_released, handle="a")
    tell(engine, holder.id, NoticeKind.use_released, handle="b")
    now = utcnow()
    for hours in range(3):  # 2 failed attempts a round; disabled at the 4th
        deliver_due(engine, settings=settings, now=now + timedelta(hours=hours))

    read = client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=holder.headers).json()
    assert read["enabled"] is False and "4 failed attempts" in read["disabled_reason"]
    assert len(receiver.received) == 4  # nothing sent once disabled
    inbox = client.get("/v1/notices", headers=holder.headers).json()["items"]
    assert inbox[0]["kind"] == "webhook.endpoint_disabled"
    assert inbox[0]["facts"]["endpoint_id"] == endpoint["id"]
    assert [d["state"] for d in deliveries(client, holder, endpoint["id"])] == ["pending"] * 2

    # Mended and enabled again: what waited goes.
    receiver.down.clear()
    enabled = client.patch(
        f"/v1/webhooks/endpoints/{endpoint['id']}", headers=holder.headers, json={"enabled": True}
    )
    assert enabled.json()["enabled"] is True and enabled.json()["consecutive_failures"] == 0
    assert deliver_due(engine, settings=settings, now=now + timedelta(days=2)) == 2
    assert sorted(data["handle"] for _, data in events(receiver)) == ["a", "b"]


def test_a_delivery_is_replayed_as_the_same_message(client, holder, engine, settings, receiver):
    endpoint = register(client, holder, receiver, "/hooks")
    tell(engine, holder.id, NoticeKind.consent_withdrawn, handle="captain")
    deliver_due(engine, settings=settings)
    [delivery] = deliveries(client, holder, endpoint["id"])

    replay = client.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries/{delivery['id']}/replay",
        headers=holder.headers,
    )
    assert replay.status_code == 200 and replay.json()["state"] == "pending"
    assert deliver_due(engine, settings=settings) == 1
    first, again = receiver.received
    assert again.verified and again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.body == first.body
    assert len(receiver.accepted) == 1  # the receiver knows it already


def test_a_secret_rotated_with_no_overlap_signs_alone_from_then_on(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    rotated = client.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/secret",
        headers=holder.headers,
        json={"overlap_hours": 0},
    ).json()
    assert rotated["secret"] != endpoint["secret"]
    assert (
        "secret"
        not in client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=holder.headers).json()
    )
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    deliver_due(engine, settings=settings)
    assert [request.verified for request in receiver.received] == [False]  # the old secret
    [refused] = deliveries(client, holder, endpoint["id"])
    assert refused["last_status_code"] == 400
    receiver.secrets["/hooks"] = rotated["secret"]
    client.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries/{refused['id']}/replay",
        headers=holder.headers,
    )
    deliver_due(engine, settings=settings)
    assert [request.verified for request in receiver.received] == [False, True]


def test_an_endpoint_takes_only_the_kinds_it_asked_for(client, holder, engine, settings, receiver):
    register(client, holder, receiver, "/hooks", kinds=["clearance.revoked"])
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    tell(engine, holder.id, NoticeKind.clearance_revoked, clearance_id="c1")
    deliver_due(engine, settings=settings)
    assert [kind for kind, _ in events(receiver)] == ["clearance.revoked"]


def test_another_accounts_endpoints_and_deliveries_are_not_found(
    client, holder, engine, settings, receiver
):
    endpoint = register(client, holder, receiver, "/hooks")
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    deliver_due(engine, settings=settings)
    [delivery] = deliveries(client, holder, endpoint["id"])
    stranger = sign_up(client)
    base = f"/v1/webhooks/endpoints/{endpoint['id']}"
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"enabled": False}),
        ("POST", f"{base}/secret", None),
        ("GET", f"{base}/deliveries", None),
        ("POST", f"{base}/deliveries/{delivery['id']}/replay", None),
        ("DELETE", base, None),
    ]:
        answer = client.request(method, path, headers=stranger.headers, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert client.get("/v1/webhooks/endpoints", headers=stranger.headers).json()["items"] == []
    # The stranger's own notices go to the stranger's endpoints only, never to the holder's.
    tell(engine, stranger.id, NoticeKind.use_released, handle="theirs")
    deliver_due(engine, settings=settings)
    assert [data["handle"] for _, data in events(receiver)] == ["captain"]
    assert client.get(base, headers=holder.headers).json()["enabled"] is True


def test_endpoints_inside_the_network_are_refused_unless_the_operator_allows(
    client, holder, settings
):
    client.app.state.settings = settings.model_copy(
        update={"webhook_allow_private_addresses": False}
    )
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
        # Not URLs at all: urllib refuses to split them (an unclosed bracket, a host that
        # changes under NFKC normalisation); refused as the others, never a 500.
        "http://[::1/hook",
        "http://a\u2100.com/hook",
        # IPv6 addresses that carry an IPv4 one inside: NAT64 (169.254.169.254 through a
        # translator), 6to4 (127.0.0.1) and IPv4-compatible (127.0.0.1).
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[::127.0.0.1]/hook",
    ]:
        answer = client.post("/v1/webhooks/endpoints", headers=holder.headers, json={"url": url})
        assert answer.status_code == 400, (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("webhook-endpoint-refused")
    public = client.post(
        "/v1/webhooks/endpoints", headers=holder.headers, json={"url": "https://93.184.216.34/h"}
    )
    assert public.status_code == 201, public.text
    moved = client.patch(
        f"/v1/webhooks/endpoints/{public.json()['id']}",
        headers=holder.headers,
        json={"url": "http://[::1/hook"},
    )
    assert moved.status_code == 400, moved.text
    assert moved.json()["type"].endswith("webhook-endpoint-refused")


def test_an_account_has_at_most_sixteen_endpoints(client, holder, other_holder):
    """Every notice goes to each of the account's endpoints (and each failure is retried): with
    no limit, one account could point thousands at somebody else's server and have ours send
    them a request per endpoint for each event it causes."""
    base = "/v1/webhooks/endpoints"
    made = [
        client.post(base, headers=holder.headers, json={"url": f"https://93.184.216.34/h{n}"})
        for n in range(MAX_ENDPOINTS)
    ]
    assert [answer.status_code for answer in made] == [201] * MAX_ENDPOINTS
    refused = client.post(base, headers=holder.headers, json={"url": "https://93.184.216.34/x"})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("webhook-endpoint-limit")
    assert client.get(base, headers=holder.headers).json()["total"] == MAX_ENDPOINTS
    # Another account's count is its own; a deleted endpoint makes room.
    theirs = client.post(
        base, headers=other_holder.headers, json={"url": "https://93.184.216.34/s"}
    )
    assert theirs.status_code == 201, theirs.text
    gone = client.delete(f"{base}/{made[0].json()['id']}", headers=holder.headers)
    assert gone.status_code == 204
    again = client.post(base, headers=holder.headers, json={"url": "https://93.184.216.34/y"})
    assert again.status_code == 201, again.text


def test_a_deleted_account_is_sent_nothing_more(client, holder, engine, settings, receiver):
    register(client, holder, receiver, "/hooks")
    tell(engine, holder.id, NoticeKind.use_released, handle="captain")
    deleted = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text
    with Session(engine) as session:
        assert session.exec(select(Notice).where(Notice.account_id == holder.id)).all() == []
    tell(engine, holder.id, NoticeKind.use_released, handle="after")
    assert deliver_due(engine, settings=settings) == 0
    assert receiver.received == []
