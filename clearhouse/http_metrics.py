"""Every HTTP request observed once, at the edge: its request id (the caller's well-formed
``X-Request-ID`` or a new one, sent back in the answer and put on every log line written for
it), its latency and status counted by route template, and its access line.

Labels name the route's template (``/v1/assets/{asset_id}``), never the raw path: no id ever
becomes a label. A path no route matches is counted as ``<unmatched>``.
"""

import logging
import time

from prometheus_client import Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearhouse.logs import REQUEST_ID_HEADER, current_request_id, request_id_from

UNMATCHED = "<unmatched>"

REQUEST_SECONDS = Histogram(
    "clearhouse_http_request_duration_seconds",
    "HTTP requests by method, route template and status: latency (its _count is the number "
    "of requests).",
    ["method", "route", "status"],
)

access = logging.getLogger("clearhouse.access")


def route_template(scope: Scope) -> str:
    """The path template of the route that served ``scope`` (set by Starlette's router)."""
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class RequestObservation:
    """The outermost layer of the app (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500  # unless an answer starts: an error that escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(elapsed)
            if access.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                        "client": client[0] if client else None,
                    },
                )
            current_request_id.reset(token)
