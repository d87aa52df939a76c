"""Clearing generation requests, with input media or without, and checking their outputs,
through the API as a generator calls it."""

import json

import httpx
from factories import create_asset, grant, set_policy
from sqlmodel import Session, func, select

from clearhouse.db import utcnow
from licensing.models import UseApproval
from licensing.tokens import ClearanceClaims, verify_clearance_token

PARAMETERS = {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20, "seed": 7}
USD_POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "price": {"currency": "USD", "per_use_minor": 150, "per_second_minor": 10},
}
APPROVAL_POLICY = {**USD_POLICY, "approval_required": True}


def clearance_body(prompt: str, **changes) -> dict:
    return {"prompt": prompt, "declared_use": "commercial", "parameters": PARAMETERS, **changes}


def clear(client: httpx.Client, user, prompt: str, media: list[bytes] = ()) -> httpx.Response:
    """POST /v1/clearances: JSON without media, the multipart form with it."""
    if not media:
        return client.post("/v1/clearances", headers=user.headers, json=clearance_body(prompt))
    files = [("request", (None, json.dumps(clearance_body(prompt)), "application/json"))]
    files += [
        ("files", (f"input{n}", data, "application/octet-stream")) for n, data in enumerate(media)
    ]
    return client.post("/v1/clearances", headers=user.headers, files=files)


def decision(client: httpx.Client, user, prompt: str, *, use: str = "personal") -> dict:
    """The answer to ``prompt`` declared as ``use``, with no media: cleared or denied."""
    answer = client.post(
        "/v1/clearances", headers=user.headers, json=clearance_body(prompt, declared_use=use)
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def check_output(client: httpx.Client, user, clearance_id: str, media: list[bytes]):
    files = [
        ("files", (f"frame{n}", data, "application/octet-stream")) for n, data in enumerate(media)
    ]
    return client.post(
        f"/v1/clearances/{clearance_id}/output-check", headers=user.headers, files=files
    )


def licensed(client: httpx.Client, owner, asset_id: str, policy: dict | None = None) -> None:
    """The owner's policy (by default: anyone, for a fee) and a grant under it."""
    set_policy(client, owner, asset_id, policy or USD_POLICY)
    grant(client, owner, asset_id)


def character_with_reference(client: httpx.Client, owner, picture: bytes, *, handle: str) -> dict:
    """A character of ``owner``'s whose reference picture is ``picture``."""
    asset = create_asset(client, owner, kind="character", handle=handle)
    uploaded = client.post(
        f"/v1/assets/{asset['id']}/references",
        headers=owner.headers,
        files=[("files", ("reference.png", picture, "image/png"))],
    )
    assert uploaded.status_code == 201, uploaded.text
    return asset


def usage(client: httpx.Client, owner, asset_id: str) -> list[dict]:
    answer = client.get(f"/v1/assets/{asset_id}/usage", headers=owner.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def approval_rows(client) -> int:
    """Every approval asked of any owner, answered or not (a TestClient's database)."""
    with Session(client.app.state.engine) as session:
        return session.exec(select(func.count()).select_from(UseApproval)).one()


def notice_kinds(client: httpx.Client, user) -> list[str]:
    """The kinds of the notices in ``user``'s inbox."""
    answer = client.get("/v1/notices", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return [notice["kind"] for notice in answer.json()["items"]]


def token_claims(client, cleared: dict) -> ClearanceClaims:
    """The claims of a clearance answer's token, verified against its own digest."""
    return verify_clearance_token(
        cleared["token"],
        request_digest=cleared["request_digest"],
        now=utcnow(),
        settings=client.app.state.settings,
        keys=client.app.state.keys,
    )
