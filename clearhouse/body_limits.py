"""Refuse a request body past its route's limit before anything reads it.

Every route takes at most ``default_max_bytes`` (JSON and forms: 1 MiB unless configured);
the upload routes take up to the media limit. A Content-Length over the limit is answered
at once, before authentication or any parsing; a body sent without one (chunked) is
counted as the app reads it and refused as soon as it passes the limit. Either way the
caller gets a 413 problem document, and the app never sees more than the limit.
"""

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearhouse.errors import ContentTooLarge, error_response


class _BodyOverLimit(Exception):
    """Raised into the app from ``receive`` when a streamed body passes the limit."""


class RequestBodyLimit:
    """ASGI middleware: ``route_max_bytes`` maps (method, path template) to a route's limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_max_bytes: int,
        route_max_bytes: Mapping[tuple[str, str], int],
    ) -> None:
        self.app = app
        self.default_max_bytes = default_max_bytes
        self.routes = [
            (method, re.compile(re.sub(r"\{[^/]+\}", "[^/]+", template)), max_bytes)
            for (method, template), max_bytes in route_max_bytes.items()
        ]

    def max_bytes_for(self, method: str, path: str) -> int:
        for route_method, pattern, max_bytes in self.routes:
            if method == route_method and pattern.fullmatch(path):
                return max_bytes
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _refuse(scope, receive, send, max_bytes=max_bytes, size=declared)
            return

        received = 0
        over_limit = False
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received, over_limit
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    over_limit = True
                    raise _BodyOverLimit
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if over_limit:  # the app's own answer to a read that failed: ours replaces it
                return
            response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over_limit:
                raise
        if over_limit and not response_started:
            await _refuse(scope, receive, send, max_bytes=max_bytes, size=None)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, *, max_bytes: int, size: int | None
) -> None:
    request = Request(scope)
    sent = f"is {size} bytes, over" if size is not None else "went past"
    error = ContentTooLarge(
        f"The request body {sent} the limit of {max_bytes} bytes for "
        f"{request.method} {request.url.path}; send a smaller body."
    )
    await error_response(request, error)(scope, receive, send)
