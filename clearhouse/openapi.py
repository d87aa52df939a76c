"""The OpenAPI schema, with the problem-details responses each route can give and the links
between operations.

A route's errors are those it and its dependencies declare with
:func:`clearhouse.errors.raises`, and those its request's shape can meet (a path id that is no
id, a bad query parameter, a malformed or oversized body).
"""

from collections import defaultdict
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from clearhouse.accounts.scopes import SCOPE_DESCRIPTIONS, route_scope
from clearhouse.edge import UntrustedHost
from clearhouse.errors import (
    PROBLEM_MEDIA_TYPE,
    RAISES_ATTRIBUTE,
    ClearhouseError,
    ContentTooLarge,
    InvalidParameters,
    MalformedBody,
    NotFound,
    Problem,
)

_DESCRIPTIONS = {
    400: "The request asks for something that cannot be done, or a parameter is invalid.",
    401: "No valid credentials.",
    403: "The caller's role may not do this, or an API key lacks the scope it needs.",
    404: "No such object among the caller's.",
    409: "Conflicts with the current state.",
    413: "The body is too large, or the upload is (bytes, pixels or seconds of video).",
    415: "The upload is not an image or video we read.",
    422: "The body is malformed; `errors` lists each field.",
    429: "Too many requests: wait the seconds in Retry-After.",
    503: "Unavailable for a moment: send it again shortly (after Retry-After seconds when given).",
}


def _declared_errors(dependant: Dependant) -> set[type[ClearhouseError]]:
    """What a route and every dependency it runs declare with ``raises``."""
    errors = set(getattr(dependant.call, RAISES_ATTRIBUTE, ()))
    for dependency in dependant.dependencies:
        errors |= _declared_errors(dependency)
    return errors


def _request_errors(route: RouteContext, operation: dict[str, Any]) -> set[type[ClearhouseError]]:
    """What FastAPI and the middleware answer for the request's shape
    (clearhouse/errors.py's validation handler, clearhouse/body_limits.py, and
    clearhouse/edge.py's host check, which any route may answer)."""
    errors: set[type[ClearhouseError]] = {UntrustedHost}
    locations = {parameter["in"] for parameter in operation.get("parameters", [])}
    if "path" in locations:
        errors.add(NotFound)  # an id in the path that is no valid id
    if locations & {"query", "header", "cookie"}:
        errors.add(InvalidParameters)  # also an unknown query parameter (query_names.py)
    if "requestBody" in operation:
        errors |= {ContentTooLarge, MalformedBody}
    if route.body_field is not None:
        # FastAPI answers a body it cannot parse at all (JSON that is no UTF-8, a broken
        # multipart form) with a plain 400, rendered as the base error's "bad-request".
        errors.add(ClearhouseError)
    return errors


def _problem_responses(errors: set[type[ClearhouseError]]) -> dict[str, Any]:
    """One response per status, naming the problem types the route may answer with it."""
    by_status: dict[int, list[type[ClearhouseError]]] = defaultdict(list)
    for error in errors:
        by_status[error.status_code].append(error)
    responses = {}
    for status, errors_of_status in sorted(by_status.items()):
        kinds = "; ".join(sorted({f"{error.slug} ({error.title})" for error in errors_of_status}))
        response: dict[str, Any] = {
            "description": f"{_DESCRIPTIONS.get(status, HTTPStatus(status).phrase + '.')} "
            f"Problem types: {kinds}.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if any(error.sends_retry_after for error in errors_of_status):
            response["headers"] = {
                "Retry-After": {
                    "description": "Whole seconds until the request may be sent again.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[str(status)] = response
    return responses


# OpenAPI links the schema cannot infer from names alone: which response's field names the
# object another request acts on. Besides documenting the flow, they lead schemathesis's
# stateful tests to delete a likeness while one of its enrolments is open, then use it.
_LINKS = (
    (
        ("/v1/assets/{asset_id}/enrolments", "post", "201"),
        "DeleteTheLikeness",
        ("/v1/assets/{asset_id}", "delete"),
        {"asset_id": "$response.body#/likeness_id"},
    ),
)


def _add_links(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    for (path, method, status), name, (target_path, target_method), parameters in _LINKS:
        links = paths[path][method]["responses"][status].setdefault("links", {})
        links[name] = {
            "operationId": paths[target_path][target_method]["operationId"],
            "parameters": parameters,
        }


def _declare_security(operation: dict[str, Any], route: RouteContext) -> None:
    """Which credentials open the operation: a signed-in session always; an API key only
    with the scope the route declares (clearhouse/accounts/scopes.py), else none."""
    if "security" not in operation:
        return
    scope = route_scope(route.original_route.endpoint)
    operation["security"] = [{"HTTPBearer": []}]
    if scope is None:
        note = "Needs a signed-in session (Authorization: Bearer); API keys are refused."
    else:
        operation["security"].append({"APIKeyHeader": [scope.value]})
        note = f"API keys need the scope `{scope.value}`."
    operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()


def _describe_scopes(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["APIKeyHeader"]
    listed = "; ".join(f"`{scope.value}`: {text}" for scope, text in SCOPE_DESCRIPTIONS.items())
    scheme["description"] += f" Each key carries scopes chosen at creation: {listed}."


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                operation = schema["paths"][route.path_format][method.lower()]
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)  # FastAPI's own, for any parameter at all
                errors = _declared_errors(route.dependant) | _request_errors(route, operation)
                responses.update(_problem_responses(errors))
                _declare_security(operation, route)

        _add_links(schema)
        _describe_scopes(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
