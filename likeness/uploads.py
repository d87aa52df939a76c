"""The files of the likeness upload routes, read with :func:`clearhouse.uploads.read_uploads`:
the thirteenth file of an enrolment is refused as its headers arrive."""

from fastapi import Request

from clearhouse.errors import raises
from clearhouse.media import MediaTooLarge
from clearhouse.uploads import UnreadableUpload, read_uploads

#: Files one enrolment request may carry (photos, or videos).
MAX_ENROLMENT_UPLOADS = 12

#: The routes whose bodies are media, for the body size limit: (method, path template).
UPLOAD_ROUTES = (
    ("POST", "/v1/likeness/scan"),
    ("POST", "/v1/enrolments/{enrolment_id}/frames"),
)


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
