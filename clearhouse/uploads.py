"""Reading the files of an upload route, with every limit applied while parsing.

FastAPI's ``File()`` parameters run Starlette's multipart parser with its defaults: up to
1,000 files, each spooled to disk, before the route can count them. Here the parser gets
the route's own limits, so a file past the route's count is refused as its headers arrive,
before its bytes are read and before anything is decoded. The whole body is also capped by
:mod:`clearhouse.body_limits` (``CLEARHOUSE_SCAN_MAX_BYTES``) for the routes each domain
names in its ``UPLOAD_ROUTES``.
"""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from clearhouse.errors import InvalidRequest
from clearhouse.media import MediaTooLarge


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
            contents = []
            for upload in uploads:
                data = await upload.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise MediaTooLarge(
                        f"{upload.filename or 'the upload'} is larger than {max_bytes} bytes; "
                        "send a smaller file."
                    )
                contents.append(data)
    except HTTPException as error:  # Starlette's refusal while parsing the multipart body
        raise UnreadableUpload(f"{error.detail} {expected}.") from error
    return contents


def multipart_request_body(*, field: str, max_files: int, description: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads its files with :func:`read_uploads`."""
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    schema: dict[str, Any] = (
        {"type": "array", "items": binary, "minItems": 1, "maxItems": max_files}
        if max_files > 1
        else binary
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
