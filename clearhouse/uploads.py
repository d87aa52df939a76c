"""Reading the files of an upload route, with every limit applied while parsing.

FastAPI's ``File()`` parameters run Starlette's multipart parser with its defaults: up to
1,000 files, each spooled to disk, before the route can count them. Here the parser gets
the route's own limits, so a file past the route's count is refused as its headers arrive,
before its bytes are read and before anything is decoded. The whole body is also capped by
:mod:`clearhouse.body_limits` (``CLEARHOUSE_SCAN_MAX_BYTES``) for the routes each domain
names in its ``UPLOAD_ROUTES``.

A route that takes a JSON body may also take it with files beside it
(:func:`json_with_files_route`): the same JSON as one part of a multipart form.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from clearhouse.errors import ContentTooLarge, InvalidRequest, raises
from clearhouse.media import MediaTooLarge

#: Where a :func:`json_with_files_route` leaves a multipart request's files for
#: :func:`uploaded_files`.
UPLOADS_SCOPE_KEY = "clearhouse.uploads"


class UnreadableUpload(InvalidRequest):
    """A multipart body that breaks the route's limits (too many files, stray fields)."""

    slug = "unreadable-upload"
    title = "Upload refused"


async def read_uploads(
    request: Request, *, field: str, max_files: int, expected: str
) -> list[bytes]:
    """The bytes of each file in ``field``, refusing more than ``max_files`` files or any
    other field while parsing."""
    max_bytes = request.app.state.settings.scan_max_bytes
    try:
        async with request.form(max_files=max_files, max_fields=0) as form:
            uploads = form.getlist(field)
            if not uploads:
                raise RequestValidationError(
                    [
                        {
                            "loc": ("body", field),
                            "msg": f"Field required. {expected}.",
                            "type": "missing",
                        }
                    ]
                )
            contents = [await _read_file(upload, max_bytes=max_bytes) for upload in uploads]
    except HTTPException as error:  # Starlette's refusal while parsing the multipart body
        raise UnreadableUpload(f"{error.detail} {expected}.") from error
    return contents


async def _read_file(upload: UploadFile | str, *, max_bytes: int) -> bytes:
    if not isinstance(upload, UploadFile):
        raise UnreadableUpload("a media part was sent as text; send each file as a file part.")
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MediaTooLarge(
            f"{upload.filename or 'the upload'} is larger than {max_bytes} bytes; "
            "send a smaller file."
        )
    return data


def json_with_files_route(
    *, json_field: str, files_field: str, max_files: int, files_are: str = "images or videos"
) -> type[APIRoute]:
    """A route class whose JSON body may also come as the ``json_field`` part of a
    multipart form, with up to ``max_files`` files as ``files_field`` beside it.

    The form is read with these limits before the route runs; its JSON part then goes
    through FastAPI's own body validation (the same 422 as the JSON variant), and the files
    wait in the request's scope for :func:`uploaded_files`. A JSON body keeps the limit of
    JSON bodies (``CLEARHOUSE_BODY_MAX_BYTES``), though the route's whole body may be media.
    """
    expected = (
        f"Send the request as JSON, or as a multipart form with the JSON as `{json_field}` "
        f"and up to {max_files} {files_are} as `{files_field}`"
    )

    class JsonWithFilesRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                if request.headers.get("content-type", "").startswith("multipart/form-data"):
                    request = await _json_part_and_files(
                        request,
                        json_field=json_field,
                        files_field=files_field,
                        max_files=max_files,
                        expected=expected,
                    )
                else:
                    await _check_json_size(request)
                return await handler(request)

            return handle

    return JsonWithFilesRoute


@raises(UnreadableUpload, MediaTooLarge)  # raised by json_with_files_route, reading the form
async def uploaded_files(request: Request) -> list[bytes]:
    """The files sent beside the JSON of a :func:`json_with_files_route` (none with JSON)."""
    return request.scope.get(UPLOADS_SCOPE_KEY, [])


async def _json_part_and_files(
    request: Request, *, json_field: str, files_field: str, max_files: int, expected: str
) -> Request:
    """The request again, as JSON (its ``json_field`` part), its files in its scope."""
    settings = request.app.state.settings
    try:
        # The JSON part is a file when sent with a file name (curl -F 'request=@body.json'):
        # one file more, or one text field.
        async with request.form(
            max_files=max_files + 1, max_fields=1, max_part_size=settings.body_max_bytes
        ) as form:
            stray = sorted(set(form.keys()) - {json_field, files_field})
            if stray:
                raise UnreadableUpload(f"Unexpected field {', '.join(stray)}. {expected}.")
            parts = form.getlist(json_field)
            if len(parts) != 1:
                raise RequestValidationError(
                    [
                        {
                            "loc": ("body", json_field),
                            "msg": f"Exactly one `{json_field}` part is required. {expected}.",
                            "type": "missing",
                        }
                    ]
                )
            uploads = form.getlist(files_field)
            if len(uploads) > max_files:
                raise UnreadableUpload(f"Too many files: {len(uploads)}. {expected}.")
            (part,) = parts
            body = part.encode() if isinstance(part, str) else await part.read()
            if len(body) > settings.body_max_bytes:
                raise ContentTooLarge(
                    f"The `{json_field}` part is over {settings.body_max_bytes} bytes; send "
                    "a smaller request."
                )
            files = [
                await _read_file(upload, max_bytes=settings.scan_max_bytes) for upload in uploads
            ]
    except HTTPException as error:  # Starlette's refusal while parsing the multipart body
        raise UnreadableUpload(f"{error.detail} {expected}.") from error
    headers = [
        (name, value)
        for name, value in request.scope["headers"]
        if name not in (b"content-type", b"content-length")
    ]
    headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({**request.scope, "headers": headers, UPLOADS_SCOPE_KEY: files}, receive)


async def _check_json_size(request: Request) -> None:
    limit = request.app.state.settings.body_max_bytes
    if len(await request.body()) > limit:
        raise ContentTooLarge(
            f"The request body is over {limit} bytes, the limit of a JSON body; send a "
            "smaller body."
        )


def json_with_files_request_body(
    *, model: str, json_field: str, files_field: str, max_files: int, description: str
) -> dict[str, Any]:
    """The OpenAPI multipart variant of a :func:`json_with_files_route`'s body (``model`` is
    the JSON body's schema, which FastAPI documents as ``application/json``)."""
    return {
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            json_field: {"$ref": f"#/components/schemas/{model}"},
                            files_field: {
                                "type": "array",
                                "items": _BINARY,
                                "maxItems": max_files,
                                "description": description,
                            },
                        },
                        "required": [json_field],
                    },
                    "encoding": {json_field: {"contentType": "application/json"}},
                }
            }
        }
    }


_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}


def multipart_request_body(*, field: str, max_files: int, description: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads its files with :func:`read_uploads`."""
    schema: dict[str, Any] = (
        {"type": "array", "items": _BINARY, "minItems": 1, "maxItems": max_files}
        if max_files > 1
        else _BINARY
    )
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {field: {**schema, "description": description}},
                        "required": [field],
                    }
                }
            },
        }
    }
