"""The OpenAPI schema, with the problem-details responses every route can give."""

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
    "503": "Every decoder is busy; send it again after Retry-After seconds.",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
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
        for methods in schema.get("paths", {}).values():
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
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
