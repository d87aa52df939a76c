"""What every request meets first and every response carries: the hosts we answer for, and
the browser security headers.

Trusted hosts: a request whose ``Host`` is not one of ``CLEARHOUSE_ALLOWED_HOSTS`` is a 400
problem before routing, so no URL we build (a redirect to the path with or without its
trailing slash, a link) ever points at a host the client chose. The check is Starlette's
``TrustedHostMiddleware``; only its plain-text refusal is replaced by a problem document.

Security headers: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer`` and a ``Content-Security-Policy`` on every response. JSON
and files get ``default-src 'none'``: nothing in them may load or run anything. The HTML
pages (the API docs at ``/docs``, with the Swagger UI files served from this app by
``fastapi-offline``) may load scripts, styles and images from this origin only and run
exactly the inline scripts they carry, allowed by their SHA-256 hash, and send their forms
only to this origin. Four headers do not
need a library; the policy is computed per page because FastAPI writes the docs pages'
inline script itself.
"""

import base64
import hashlib
import re
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearhouse.errors import ClearhouseError, error_response


class UntrustedHost(ClearhouseError):
    status_code = 400
    slug = "untrusted-host"
    title = "Host not served here"


_PASSED = "clearhouse.trusted_host"


class TrustedHosts:
    """Starlette's ``TrustedHostMiddleware``, answering a refused host with a problem."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(
            self._trusted, allowed_hosts=allowed_hosts, www_redirect=False
        )

    async def _trusted(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_PASSED] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.check(scope, receive, send)
            return

        async def send_or_refuse(message: Message) -> None:
            if scope.get(_PASSED):
                await send(message)
            elif message["type"] == "http.response.start":  # Starlette's refusal: replace it
                refusal = UntrustedHost(
                    "This server does not answer for the host in the Host header; "
                    "its operator lists the hosts it serves in CLEARHOUSE_ALLOWED_HOSTS."
                )
                await error_response(Request(scope), refusal)(scope, receive, send)

        await self.check(scope, receive, send_or_refuse)


# Nothing may be loaded, run or framed: right for JSON, problem documents and files.
LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def page_policy(html: bytes) -> str:
    """The policy of one of our HTML pages: this origin only, and its own inline scripts."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; "
        # Swagger UI sets styles from its scripts; styles run no code.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class SecurityHeaders:
    """Adds the security headers to every HTTP response (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page_start: Message | None = None
        page_body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal page_start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                if headers.get("content-type", "").startswith("text/html"):
                    page_start = message  # its policy depends on its body: hold it
                    return
                headers["Content-Security-Policy"] = LOCKED_DOWN
            elif page_start is not None and message["type"] == "http.response.body":
                page_body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(page_body)
                MutableHeaders(scope=page_start)["Content-Security-Policy"] = page_policy(html)
                await send(page_start)
                message = {"type": "http.response.body", "body": html}
            await send(message)

        await self.app(scope, receive, send_with_headers)
