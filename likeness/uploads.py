"""Reading the files of the two upload routes, with every limit applied while parsing.

FastAPI's ``File()`` parameters run Starlette's multipart parser with its defaults: up to
1,000 files, each spooled to disk, before the route can count them. Here the parser gets
this route's own limits, so the thirteenth file of an enrolment is refused as its headers
arrive, before its bytes are read and before anything is decoded. The whole body is also
capped by :mod:`clearhouse.body_limits` (``CLEARHOUSE_SCAN_MAX_BYTES``).
"""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from clearhouse.errors import InvalidRequest, raises
from likeness.media import MediaTooLarge

#: Files one enrolment request may carry (photos, or videos).
MAX_ENROLMENT_UPLOADS = 12

#: The routes whose bodies are media, for the body size limit: (method, path template).
UPLOAD_ROUTES = (
    ("POST", "/v1/likeness/scan"),
    ("POST", "/v1/enrolments/{enrolment_id}/frames"),
)


class UnreadableUpload(InvalidRequest):
    """A multipart body that breaks the route's limits (too many files, stray fields)."""

    slug = "unreadable-upload"
    title = "Upload refused"


@raises(UnreadableUpload, MediaTooLarge)
async def enrolment_uploads(request: Request) -> list[bytes]:
    """The photos or videos of an enrolment: 1 to 12 files named ``files``."""
    return await read_uploads(
        request,
        field="files",
        max_files=MAX_ENROLMENT_UPLOADS,
        expected=f"Send 1 to {MAX_ENROLMENT_UPLOADS} photos or videos as `files`",
    )


@raises(UnreadableUpload, MediaTooLarge)
async def scan_upload(request: Request) -> bytes:
    """The one image or video of a scan, named ``file``."""
    (data,) = await read_uploads(
        request, field="file", max_files=1, expected="Send one image or video as `file`"
    )
    return data


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
