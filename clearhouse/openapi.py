"""The OpenAPI schema, with the problem-details responses every route can give and the
links between operations."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from clearhouse.errors import PROBLEM_MEDIA_TYPE, Problem

_DESCRIPTIONS = {
    "400": "The request asks for something that cannot be done, or a parameter is invalid.",
    "401": "No valid credentials.",
    "403": "The caller's role may not do this.",
    "404": "No such object among the caller's.",
    "409": "Conflicts with the current state.",
    "413": "The body is too large, or the upload is (bytes, pixels or seconds of video).",
    "415": "The upload is not an image or video we read.",
    "422": "The body is malformed; `errors` lists each field.",
    "429": "Too many requests: wait the seconds in Retry-After.",
    "503": "Busy (every decoder) or the rate limiter's store (Redis) did not answer: "
    "send it again shortly (after Retry-After seconds when given).",
}
SIGN_IN_PATH = "/v1/auth/token"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _rate_limited() -> dict[str, Any]:
    retry_after = {
        "description": "Whole seconds until the request may be sent again.",
        "schema": {"type": "integer", "minimum": 1},
    }
    return {**_problem(_DESCRIPTIONS["429"]), "headers": {"Retry-After": retry_after}}


def _is_rate_limited(path: str, operation: dict[str, Any]) -> bool:
    """Sign-in, and every route an API key may call (clearhouse/rate_limit.py)."""
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    return path == SIGN_IN_PATH or "APIKeyHeader" in schemes


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
        for path, methods in schema.get("paths", {}).items():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                codes = ["400", "401", "403", "404", "409"]
                if "requestBody" in operation:
                    codes += ["413", "422"]
                    if "multipart/form-data" in operation["requestBody"]["content"]:
                        codes += ["415", "503"]
                for code in codes:
                    responses[code] = _problem(_DESCRIPTIONS[code])
                if "422" not in codes:
                    responses.pop("422", None)
                if _is_rate_limited(path, operation):
                    responses["429"] = _rate_limited()
                    responses["503"] = _problem(_DESCRIPTIONS["503"])

        _add_links(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
