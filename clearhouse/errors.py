"""One error hierarchy, rendered as RFC 9457 problem details (``application/problem+json``).

Domain packages subclass :class:`ClearhouseError` in their own ``errors.py``; the handlers
installed by :func:`install_problem_handlers` turn every error, ours or FastAPI's, into a
problem document, so a caller never has to parse two error formats. Routes and dependencies
declare what they raise with :func:`raises`, for the OpenAPI schema.
"""

import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://clearhouse.example/problems/"

log = logging.getLogger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong here, and what to do.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For a malformed body: each invalid field and why."
    )


class ClearhouseError(Exception):
    """Base of every error the platform raises on purpose."""

    status_code: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"
    headers: dict[str, str] | None = None
    sends_retry_after: ClassVar[bool] = False  # for the OpenAPI schema's Retry-After header

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, Any]:
        """RFC 9457 extension members a program reads instead of parsing ``detail``."""
        return {}


class NotFound(ClearhouseError):
    status_code = 404
    slug = "not-found"
    title = "Not found"


class Unauthenticated(ClearhouseError):
    status_code = 401
    slug = "unauthenticated"
    title = "Authentication required"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ClearhouseError):
    status_code = 403
    slug = "forbidden"
    title = "Not allowed"


class Conflict(ClearhouseError):
    status_code = 409
    slug = "conflict"
    title = "Conflict with the current state"


class ContentTooLarge(ClearhouseError):
    status_code = 413
    slug = "content-too-large"
    title = "Request body too large"


class InvalidRequest(ClearhouseError):
    """A request that is well formed but asks for something that cannot be done."""

    status_code = 400
    slug = "invalid-request"
    title = "Invalid request"


class InvalidParameters(ClearhouseError):
    """A query, header or cookie parameter out of its range or of the wrong type."""

    status_code = 400
    slug = "invalid-parameters"
    title = "Invalid query or header parameters"


class MalformedBody(ClearhouseError):
    """A body that does not match its schema: the only 422."""

    status_code = 422
    slug = "malformed-body"
    title = "Malformed request body"


class DatabaseBusy(ClearhouseError):
    """The database stayed busy for as long as a request may wait: SQLite's write lock, or a
    pooled connection, for 30 s. Too many requests at once, not a bug."""

    status_code = 503
    slug = "database-busy"
    title = "Too many requests at once"
    sends_retry_after = True
    headers = {"Retry-After": "2"}


Raiser = TypeVar("Raiser", bound=Callable[..., Any])
RAISES_ATTRIBUTE = "clearhouse_raises"


def raises(*errors: type[ClearhouseError]) -> Callable[[Raiser], Raiser]:
    """Declare the errors a route or a dependency raises on purpose.

    The OpenAPI schema lists, for each route, the errors of the route and of every dependency
    it runs (clearhouse/openapi.py), so a route documents only what it can answer.
    """

    def declare(function: Raiser) -> Raiser:
        declared = getattr(function, RAISES_ATTRIBUTE, ())
        setattr(function, RAISES_ATTRIBUTE, (*declared, *errors))
        return function

    return declare


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=PROBLEM_TYPE_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return JSONResponse(
        {**(extensions or {}), **problem.model_dump(exclude_none=True)},
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _location(error: dict[str, Any]) -> str:
    return str(error.get("loc", ("body",))[0])


def error_response(request: Request, exc: ClearhouseError) -> JSONResponse:
    """The problem document for one of our errors, also for code outside the handlers."""
    return problem_response(
        request,
        status=exc.status_code,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extensions=exc.extensions(),
    )


async def _on_clearhouse_error(request: Request, exc: ClearhouseError) -> JSONResponse:
    return error_response(request, exc)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 is for a malformed body only; a bad id in the path is simply not found (404)."""
    errors = [
        {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    locations = {_location(e) for e in exc.errors()}
    if "body" in locations:
        error: ClearhouseError = MalformedBody(
            "Fix the fields listed in `errors` and send the request again."
        )
    elif locations == {"path"}:
        if fixed_path_methods := _declared_methods(request, fixed_paths_only=True):
            # e.g. GET /v1/receipts/verify: "verify" is no receipt id but a path of its own.
            return problem_response(
                request,
                status=405,
                slug="method-not-allowed",
                title="Method Not Allowed",
                detail=None,
                headers={"Allow": fixed_path_methods},
            )
        return error_response(
            request, NotFound("No such object: the id in the path is not a valid id.")
        )
    else:
        error = InvalidParameters(
            "Fix the parameters listed in `errors` and send the request again."
        )
    return problem_response(
        request,
        status=error.status_code,
        slug=error.slug,
        title=error.title,
        detail=error.detail,
        errors=errors,
    )


def _declared_methods(request: Request, *, fixed_paths_only: bool = False) -> str:
    """The methods the OpenAPI schema declares for this request's path, for an Allow header.

    A fixed path (``/v1/receipts/verify``) wins over a template that also matches it
    (``/v1/receipts/{receipt_id}``), as it does when routing.
    """
    paths = request.app.openapi()["paths"]
    path = request.url.path
    if path in paths:
        operations = paths[path]
    elif fixed_paths_only:
        return ""
    else:
        operations = {}
        for template, methods in paths.items():
            if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
                operations |= methods
    return ", ".join(sorted(method.upper() for method in operations))


async def _on_http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = HTTPStatus(exc.status_code)
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _declared_methods(request)}
    return problem_response(
        request,
        status=exc.status_code,
        slug=status.phrase.lower().replace(" ", "-"),
        title=status.phrase,
        detail=str(exc.detail) if exc.detail != status.phrase else None,
        headers=headers,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="This is a bug on our side; it has been logged.",
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, PoolTimeout) or "database is locked" in str(exc):
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            request,
            DatabaseBusy(
                "The database stayed busy with other requests for as long as one may wait; "
                "nothing was changed. Send the request again in a moment."
            ),
        )
    return await _on_unexpected(request, exc)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClearhouseError, _on_clearhouse_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(OperationalError, _on_database_error)
    app.add_exception_handler(PoolTimeout, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)
