"""Portal forms that carry one evidence document beside their fields (a claim, a dispute): read
with the limits of the API's route, the CSRF token checked on the form parsed here."""

from collections.abc import Awaitable, Callable, Sequence

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from clearhouse.portal.sessions import check_csrf
from clearhouse.uploads import UnreadableUpload
from rights.evidence import MAX_DOCUMENT_BYTES

DocumentForm = tuple[dict[str, str], bytes | None]


def document_form(fields: Sequence[str]) -> Callable[[Request], Awaitable[DocumentForm]]:
    """A dependency reading the form's ``fields`` and its document (None when no file was
    chosen)."""

    async def read(request: Request) -> DocumentForm:
        try:
            form = await request.form(max_files=1, max_fields=len(fields) + 1)
        except HTTPException as error:
            raise UnreadableUpload(f"{error.detail} Send one document at most.") from error
        await check_csrf(request)
        values = {name: value for name in fields if isinstance(value := form.get(name), str)}
        upload = form.get("document")
        document = None
        if isinstance(upload, UploadFile) and upload.filename:
            document = await upload.read(MAX_DOCUMENT_BYTES + 1)
        return values, document

    return read
