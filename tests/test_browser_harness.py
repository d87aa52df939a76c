"""The browser harness (tests/browser.py) fails a page that breaks a promise, and passes a good one.

Small pages of its own, served from 127.0.0.1 by http.server in a thread; one browser for all.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import browser as harness
import pytest
from browser import ARTIFACTS, audit, skip_without_chromium, watched_page
from playwright.sync_api import Browser

# The portal's kind of policy: everything from this origin only, no inline script or style.
STRICT_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STYLE = """body { font: 16px/1.5 system-ui, sans-serif; color: #1a1a1a; background: #fff;
  margin: 0 auto; max-width: 40rem; padding: 1rem; }
label, input, button { display: block; font: inherit; margin: .25rem 0; }
input { width: 100%; box-sizing: border-box; }
"""


def _document(body: str, *, head: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Harness page</title>{head}</head><body><main>{body}</main></body></html>"
    )


CLEAN = _document(
    '<h1>Your likeness</h1><p>Nobody may use it until you say so.</p><form method="post">'
    '<label for="email">Email</label><input id="email" name="email" type="email">'
    '<button type="submit">Save</button></form><img src="/face.svg" alt="Your enrolled face">',
    head='<link rel="stylesheet" href="/style.css">',
)
PAGES = {
    "/clean.html": CLEAN,
    "/unlabeled.html": _document('<h1>Sign in</h1><input id="email" type="email">'),
    "/no-alt.html": _document('<h1>Your face</h1><img id="portrait" src="/face.svg">'),
    "/low-contrast.html": _document(
        '<h1>Payouts</h1><p id="faint" style="color: #c8c8c8">Paid on the first of the month.</p>'
    ),
    "/foreign.html": _document(
        "<h1>Tracked</h1>",
        head='<script src="http://example.invalid/tracker.js"></script>'
        '<link rel="stylesheet" href="http://localhost:{port}/style.css">',
    ),
    "/wide.html": _document('<h1>Table</h1><div id="ledger" style="width: 1000px">Legs</div>'),
    "/throws.html": _document("<h1>Broken</h1>", head="<script>undefinedFunction()</script>"),
    "/console-error.html": _document(
        "<h1>Noisy</h1>", head="<script>console.error('could not load the grants')</script>"
    ),
}
FILES = {
    "/style.css": ("text/css", STYLE),
    "/face.svg": (
        "image/svg+xml",
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120">'
        '<circle cx="60" cy="60" r="50" fill="#3b5b7a"/></svg>',
    ),
}


class _Pages(BaseHTTPRequestHandler):
    """Serves PAGES and FILES; the clean page under the strict policy, the bad ones without."""

    def do_GET(self) -> None:
        self.server.requests.append((self.headers["Host"], self.path))
        if self.path in PAGES:
            kind = "text/html; charset=utf-8"
            body = PAGES[self.path].replace("{port}", str(self.server.server_port))
        elif self.path in FILES:
            kind, body = FILES[self.path]
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if self.path == "/clean.html":
            self.send_header("Content-Security-Policy", STRICT_POLICY)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.requests = []
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(site: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{site.server_port}{path}"


@pytest.mark.parametrize(
    ("path", "rule", "target"),
    [
        ("/unlabeled.html", "label", "#email"),
        ("/no-alt.html", "image-alt", "#portrait"),
        ("/low-contrast.html", "color-contrast", "#faint"),
    ],
)
def test_audit_names_each_serious_accessibility_violation(
    browser: Browser, site: ThreadingHTTPServer, path: str, rule: str, target: str
) -> None:
    with watched_page(browser) as page:
        page.goto(_url(site, path))
        with pytest.raises(pytest.fail.Exception) as failure:
            audit(page, "harness-inaccessible")
    message = str(failure.value)
    assert f"axe-core {rule} (" in message
    assert f"\n  {target}" in message


def test_a_request_to_another_host_fails_the_test_and_never_leaves(
    browser: Browser, site: ThreadingHTTPServer
) -> None:
    with pytest.raises(pytest.fail.Exception) as failure, watched_page(browser) as page:
        page.goto(_url(site, "/foreign.html"))
    message = str(failure.value)
    assert "nothing loads from another host" in message
    assert "http://example.invalid/tracker.js" in message
    # Same server, another host name: the request is aborted before it reaches the server.
    assert f"http://localhost:{site.server_port}/style.css" in message
    assert ("localhost:" + str(site.server_port), "/style.css") not in site.requests
    assert "JavaScript errors" not in message


def test_a_page_wider_than_a_phone_fails_the_audit(
    browser: Browser, site: ThreadingHTTPServer
) -> None:
    with watched_page(browser) as page:
        page.goto(_url(site, "/wide.html"))
        with pytest.raises(pytest.fail.Exception) as failure:
            audit(page, "harness-wide")
    message = str(failure.value)
    assert "at 390 px wide the page is" in message
    assert "div#ledger" in message
    assert "axe-core" not in message


@pytest.mark.parametrize(
    ("path", "reported"),
    [
        ("/throws.html", "uncaught ReferenceError: undefinedFunction is not defined"),
        ("/console-error.html", "console error: could not load the grants"),
    ],
)
def test_a_script_error_fails_the_test(
    browser: Browser, site: ThreadingHTTPServer, path: str, reported: str
) -> None:
    with (
        pytest.raises(pytest.fail.Exception, match="JavaScript errors") as failure,
        watched_page(browser) as page,
    ):
        page.goto(_url(site, path))
    assert reported in str(failure.value)


def test_a_well_built_page_passes_and_is_photographed(
    browser: Browser, site: ThreadingHTTPServer
) -> None:
    for shot in ("harness-clean.png", "harness-clean-phone.png"):
        (ARTIFACTS / shot).unlink(missing_ok=True)
    with watched_page(browser) as page:
        page.goto(_url(site, "/clean.html"))
        page.set_viewport_size({"width": 800, "height": 600})
        audit(page, "harness-clean")
        assert page.viewport_size == {"width": 800, "height": 600}
    for shot, width in (("harness-clean.png", 1280), ("harness-clean-phone.png", 390)):
        png = (ARTIFACTS / shot).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert int.from_bytes(png[16:20], "big") == width  # the IHDR chunk's width


def test_a_missing_chromium_skips_the_browser_tests_unless_ci_requires_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.delenv("CLEARHOUSE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        skip_without_chromium()
    monkeypatch.setenv("CLEARHOUSE_REQUIRE_BROWSER", "1")
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as outcome:
        skip_without_chromium()
    assert outcome.type is pytest.fail.Exception
    assert "CLEARHOUSE_REQUIRE_BROWSER=1" in str(outcome.value)
