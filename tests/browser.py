"""A real browser for the portal's tests: Debian's Chromium driven by Playwright, and audit().

Registered in tests/conftest.py (``pytest_plugins``), so any test can ask for ``browser`` or
``page``. The ``page`` fixture lets requests reach only the origin its first navigation
opened: every request to another origin is aborted, recorded, and fails the test at teardown,
as do uncaught JavaScript errors and console errors. ``audit(page, name)`` checks a page the
way the project promises pages: no serious or critical axe-core violation, nothing wider than a
390 px phone screen, and a screenshot at both sizes under ``test-artifacts/``.

Playwright's own browser download does not work here; Debian's ``chromium`` package does.
Without it the browser tests skip, unless ``CLEARHOUSE_REQUIRE_BROWSER=1`` (set in CI), where
that is a failure.
"""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Playwright already passes --headless, --no-sandbox, --no-first-run,
# --disable-background-networking, --disable-component-update and --disable-sync.
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING_IMPACTS = ("serious", "critical")
# The first few elements whose right edge passes the screen's, named as a person finds them
# in the markup: tag#id.class.
_ELEMENTS_PAST_THE_EDGE = """() => [...document.querySelectorAll("body *")]
    .filter((element) => element.getBoundingClientRect().right > window.innerWidth)
    .slice(0, 5)
    .map((element) => element.tagName.toLowerCase()
        + (element.id ? "#" + element.id : "")
        + [...element.classList].map((name) => "." + name).join("")
        + " (" + Math.round(element.getBoundingClientRect().right) + " px)")"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run; each test gets its own context from it."""
    skip_without_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def skip_without_chromium() -> None:
    """Skip when Chromium is not installed, or fail where CI requires the browser tests."""
    if CHROMIUM.exists():
        return
    reason = f"no browser at {CHROMIUM}: install Debian's with `apt-get install -y chromium`"
    if os.environ.get("CLEARHOUSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CLEARHOUSE_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that fails its test if it reached another origin or hit a script error."""
    with watched_page(browser) as opened:
        yield opened


class _PageWatch:
    """What a page did that its test must not let pass: foreign requests and script errors."""

    def __init__(self) -> None:
        self.origin: str | None = None
        self.foreign_requests: list[str] = []
        self.script_errors: list[str] = []
        self.pages_opened: set[str] = set()

    def route(self, route: Route) -> None:
        request = route.request
        origin = _origin(request.url)
        if request.is_navigation_request():
            self.origin = self.origin or origin
            self.pages_opened.add(request.url)
        if origin == self.origin:
            route.continue_()
        else:
            self.foreign_requests.append(request.url)
            route.abort("blockedbyclient")

    def page_error(self, error: Error) -> None:
        self.script_errors.append(f"uncaught {error.name}: {error.message}")

    def console(self, message: ConsoleMessage) -> None:
        # An aborted foreign request also logs "Failed to load resource"; it is reported once,
        # as a foreign request. A page answered with an error status (a form sent back with
        # its problems, a 404 page) logs it too: the test asserts what that page says.
        url = message.location["url"]
        expected = url in self.foreign_requests or (
            url in self.pages_opened and message.text.startswith("Failed to load resource")
        )
        if message.type == "error" and not expected:
            self.script_errors.append(f"console error: {message.text} ({message.location['url']})")

    def check(self) -> None:
        problems = []
        if self.foreign_requests:
            problems.append(
                f"nothing loads from another host, but the page asked (origin {self.origin}):\n"
                + "\n".join(f"  {url}" for url in self.foreign_requests)
                + "\nserve it from this app instead (no CDN, no external fonts or scripts)"
            )
        if self.script_errors:
            problems.append(
                "the page reported JavaScript errors:\n"
                + "\n".join(f"  {error}" for error in self.script_errors)
            )
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextmanager
def watched_page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own, checked when the block ends (unless the block raised).

    Service workers are blocked because their requests would pass the context's routes.
    """
    context = browser.new_context(viewport=DESKTOP, service_workers="block")
    watch = _PageWatch()
    context.route("**/*", watch.route)
    opened = context.new_page()
    opened.on("pageerror", watch.page_error)
    opened.on("console", watch.console)
    try:
        yield opened
    finally:
        context.close()
    watch.check()


def audit(page: Page, name: str) -> None:
    """Fail unless the page is accessible and fits a phone; screenshot it at both sizes.

    Runs axe-core (shipped in the axe-playwright-python wheel) on the page as it is, then lays
    it out at 390x844 and at 1280x900, saving full-page screenshots as
    ``test-artifacts/<name>-phone.png`` and ``test-artifacts/<name>.png`` whatever the outcome,
    so a failure can be looked at. The viewport is put back afterwards.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"name a screenshot in lowercase letters, digits and dashes: {name!r}")
    problems = _accessibility_violations(page)
    ARTIFACTS.mkdir(exist_ok=True)
    viewport = page.viewport_size
    try:
        page.set_viewport_size(PHONE)
        phone_shot = ARTIFACTS / f"{name}-phone.png"
        page.screenshot(path=phone_shot, full_page=True)
        problems += _wider_than_the_screen(page, screenshot=phone_shot)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    finally:
        if viewport is not None:
            page.set_viewport_size(viewport)
    if problems:
        pytest.fail(f"{page.url} fails its audit:\n\n" + "\n\n".join(problems), pytrace=False)


def _accessibility_violations(page: Page) -> list[str]:
    violations = [
        violation
        for violation in Axe().run(page).response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]
    return [
        f"axe-core {violation['id']} ({violation['impact']}): {violation['help']}"
        f" <{violation['helpUrl']}>\n"
        + "\n".join(f"  {_selector(node['target'])}" for node in violation["nodes"])
        for violation in violations
    ]


def _selector(target: list) -> str:
    # Inside iframes or shadow roots axe names an element by a list of selectors, outermost first.
    return " >>> ".join(" >>> ".join(part) if isinstance(part, list) else part for part in target)


def _wider_than_the_screen(page: Page, *, screenshot: Path) -> list[str]:
    width = page.evaluate("document.documentElement.scrollWidth")
    screen = page.evaluate("window.innerWidth")
    if width <= screen:
        return []
    elements = page.evaluate(_ELEMENTS_PAST_THE_EDGE)
    return [
        f"at {screen} px wide the page is {width} px wide (it scrolls sideways on a phone);"
        f" see {screenshot}. Elements past the right edge:\n"
        + "\n".join(f"  {element}" for element in elements)
    ]
