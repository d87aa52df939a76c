"""The edge: the hosts the API answers for, the docs served from the app itself, and the
security headers on every response."""

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from clearhouse.app import create_app
from clearhouse.settings import Settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_a_foreign_host_is_refused_and_never_redirected_to(client):
    for method, path in [("POST", "/v1/receipts/verify/"), ("GET", "/healthz")]:
        response = client.request(
            method, path, headers={"Host": "evil.example"}, follow_redirects=False
        )
        assert response.status_code == 400, response.text
        assert "location" not in response.headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/untrusted-host")
        assert "evil.example" not in response.text


def test_a_served_host_keeps_its_trailing_slash_redirect_on_itself(client):
    response = client.post(
        "/v1/receipts/verify/", headers={"Host": "127.0.0.1:8000"}, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == "http://127.0.0.1:8000/v1/receipts/verify"


def test_by_default_only_the_local_host_is_served(settings, monkeypatch):
    monkeypatch.delenv("CLEARHOUSE_ALLOWED_HOSTS", raising=False)
    default = Settings(**settings.model_dump(exclude={"allowed_hosts"}))
    assert default.allowed_hosts == ["localhost", "127.0.0.1"]
    with TestClient(create_app(default)) as app:
        for host in ("localhost:8000", "127.0.0.1", "LOCALHOST"):
            assert app.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("testserver", "localhost.evil.example", "evil.example:8000"):
            assert app.get("/healthz", headers={"Host": host}).status_code == 400, host


def test_allowed_hosts_come_from_the_environment(settings, monkeypatch):
    monkeypatch.setenv("CLEARHOUSE_ALLOWED_HOSTS", "api.example.org, *.clearhouse.example")
    configured = Settings(**settings.model_dump(exclude={"allowed_hosts"}))
    assert configured.allowed_hosts == ["api.example.org", "*.clearhouse.example"]
    with TestClient(create_app(configured)) as app:
        for host, status in [
            ("api.example.org", 200),
            ("eu.clearhouse.example", 200),
            ("localhost", 400),
            ("example.org", 400),
        ]:
            assert app.get("/healthz", headers={"Host": host}).status_code == status, host


def _assert_security_headers(response, *, policy: str | None = None) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    if policy is not None:
        assert csp == policy


LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def test_every_kind_of_response_carries_the_security_headers(client, holder, settings):
    responses = [
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/v1/accounts/me", headers=holder.headers),
        client.get("/v1/accounts/me"),  # 401
        client.get(f"/v1/assets/{'0' * 32}", headers=holder.headers),  # 404
        client.post("/v1/assets", headers=holder.headers, json={"kind": "nope"}),  # 422
        client.post("/v1/receipts/verify", content=b"x" * (settings.body_max_bytes + 1)),  # 413
        client.get("/healthz", headers={"Host": "evil.example"}),  # 400, untrusted host
        client.post("/v1/receipts/verify/", follow_redirects=False),  # 307
    ]
    for response in responses:
        _assert_security_headers(response, policy=LOCKED_DOWN)


def test_even_a_500_carries_the_security_headers(settings):
    app = create_app(settings)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as broken:
        response = broken.get("/boom")
    assert response.status_code == 500
    _assert_security_headers(response, policy=LOCKED_DOWN)


class _References(HTMLParser):
    """Every URL an HTML page loads (src, href) and the bodies of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.urls += [attributes[name] for name in ("src", "href") if attributes.get(name)]
        self._in_inline_script = tag == "script" and "src" not in attributes

    def handle_endtag(self, tag):
        self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script:
            self.inline_scripts.append(data)


def test_the_docs_load_everything_from_the_app_itself(client):
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.text
    references = _References()
    references.feed(html)
    assert references.urls, "the page loads its scripts and styles"
    for url in references.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        _assert_security_headers(asset, policy=LOCKED_DOWN)
    # No other host is named anywhere in the page: not in a tag, not in its inline script.
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []
    js = [url for url in references.urls if url.endswith(".js")]
    assert js and all(
        client.get(url).headers["content-type"].startswith("text/javascript") for url in js
    )


@pytest.mark.parametrize("page", ["/docs", "/docs/oauth2-redirect"])
def test_the_docs_policy_runs_only_the_pages_own_scripts_from_this_origin(client, page):
    response = client.get(page)
    references = _References()
    references.feed(response.text)
    _assert_security_headers(response)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    expected_hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in references.inline_scripts
    }
    assert set(policy["script-src"].split()) == {"'self'", *expected_hashes}
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"  # "Try it out" calls this API only
    for directive, sources in policy.items():
        assert "http" not in sources and "*" not in sources, (directive, sources)
        assert "'unsafe-eval'" not in sources, directive
