"""Request bodies are capped per route before authentication or parsing: 1 MiB for JSON and
forms, the media limit for the upload routes; declared or streamed, the answer is 413."""

import socket
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from live_server import uvicorn_in_thread

from clearhouse.app import create_app
from clearhouse.body_limits import RequestBodyLimit
from likeness.uploads import UPLOAD_ROUTES
from rights.references.api import UPLOAD_ROUTES as REFERENCE_UPLOAD_ROUTES

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


def _asset_body(size: int) -> bytes:
    """A well-formed asset, its name padded to ``size`` bytes of JSON."""
    head, tail = b'{"kind": "character", "handle": "@big", "name": "', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def _assert_too_large(response, *, limit: int) -> dict:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/content-too-large")
    assert f"the limit of {limit} bytes" in problem["detail"]
    return problem


def test_a_2_mib_json_body_is_refused_before_authentication(client):
    response = client.post("/v1/assets", content=_asset_body(2 * MIB), headers=JSON)
    problem = _assert_too_large(response, limit=MIB)
    assert problem["detail"].startswith(f"The request body is {2 * MIB} bytes, over")


def test_a_body_under_the_limit_reaches_the_app(client):
    # The same route with a 0.9 MiB body: parsed, then refused for want of credentials.
    response = client.post("/v1/assets", content=_asset_body(9 * MIB // 10), headers=JSON)
    assert response.status_code == 401


def test_a_chunked_body_without_content_length_is_counted_and_refused(client):
    def chunks():
        body = _asset_body(2 * MIB)
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post("/v1/assets", content=chunks(), headers=JSON)
    problem = _assert_too_large(response, limit=MIB)
    assert problem["detail"].startswith("The request body went past the limit")


@pytest.fixture
def live_port(settings) -> Iterator[int]:
    with uvicorn_in_thread(settings) as url:
        yield int(url.rsplit(":", 1)[1])


def test_a_streamed_body_is_refused_while_it_is_still_arriving(live_port):
    """Over a real socket: the 413 comes after the limit is passed, without waiting for the
    rest of the body (this client never sends the chunked body's end)."""
    with socket.create_connection(("127.0.0.1", live_port), timeout=20) as connection:
        connection.sendall(
            b"POST /v1/assets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * (64 * 1024)
        for _ in range(17):  # 1.06 MiB
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"went past the limit of 1048576 bytes" in answer


def test_sign_in_forms_are_capped_too(client):
    response = client.post(
        "/v1/auth/token", data={"username": "a@example.org", "password": "x" * (2 * MIB)}
    )
    _assert_too_large(response, limit=MIB)


def test_upload_routes_take_the_media_limit_instead(settings):
    limited = settings.model_copy(update={"scan_max_bytes": 3 * MIB})
    with TestClient(create_app(limited)) as client:
        two_mib = {"file": ("photo.jpg", b"\xff\xd8\xff" + bytes(2 * MIB), "image/jpeg")}
        # Within the upload limit though over the JSON one: read, then refused as anonymous.
        assert client.post("/v1/likeness/scan", files=two_mib).status_code == 401
        four_mib = {"file": ("photo.jpg", b"\xff\xd8\xff" + bytes(4 * MIB), "image/jpeg")}
        _assert_too_large(client.post("/v1/likeness/scan", files=four_mib), limit=3 * MIB)
        references = f"/v1/assets/{uuid.uuid4()}/references"
        assert client.post(references, files={"files": two_mib["file"]}).status_code == 401
        _assert_too_large(client.post(references, files={"files": four_mib["file"]}), limit=3 * MIB)


@pytest.mark.parametrize(("method", "path"), (*UPLOAD_ROUTES, *REFERENCE_UPLOAD_ROUTES))
def test_every_upload_route_named_for_the_limit_exists(client, method, path):
    assert method.lower() in client.app.openapi()["paths"][path]


def test_path_templates_match_their_ids_only():
    limits = RequestBodyLimit(
        app=None,
        default_max_bytes=10,
        route_max_bytes={("POST", "/v1/enrolments/{enrolment_id}/frames"): 99},
    )
    assert limits.max_bytes_for("POST", "/v1/enrolments/6a1e/frames") == 99
    assert limits.max_bytes_for("PUT", "/v1/enrolments/6a1e/frames") == 10
    assert limits.max_bytes_for("POST", "/v1/enrolments/6a1e/frames/x") == 10
    assert limits.max_bytes_for("POST", "/v1/enrolments/a/b/frames") == 10
