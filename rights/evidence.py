"""Evidence documents: the PDF, PNG or JPEG a holder sends for a claim (rights/claims/) or an
account sends with a dispute (rights/disputes/), kept in the database beside what it proves
(``ClaimDocument``). Its type is read from its first bytes, never from what the client says."""

import hashlib
import uuid
from datetime import datetime

from fastapi.responses import Response
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from rights.claims.errors import UnusableEvidence
from rights.claims.models import ClaimDocument

#: The largest evidence document kept.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def document_type(data: bytes) -> str:
    """The document's type from its first bytes (never from what the client says it is)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnusableEvidence(
            f"The document is {len(data)} bytes; send one of at most {MAX_DOCUMENT_BYTES} bytes."
        )
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    raise UnusableEvidence("The document is not a PDF, PNG or JPEG file; send one of those.")


def store_document(
    session: Session, *, owner_id: uuid.UUID, data: bytes, now: datetime
) -> ClaimDocument:
    """Keep ``data`` (checked) as a document of ``owner_id``'s, flushed for its id."""
    stored = ClaimDocument(
        owner_id=owner_id,
        content_type=document_type(data),
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        uploaded_at=now,
    )
    session.add(stored)
    session.flush()
    return stored


def documents_by_id(
    session: Session, document_ids: list[uuid.UUID | None]
) -> dict[uuid.UUID, ClaimDocument]:
    """The documents by id, their bytes left unread until someone opens one."""
    wanted = [document_id for document_id in document_ids if document_id is not None]
    if not wanted:
        return {}
    rows = session.exec(
        select(ClaimDocument)
        .options(defer(ClaimDocument.content))
        .where(col(ClaimDocument.id).in_(wanted))
    ).all()
    return {row.id: row for row in rows}


def document_download(document: ClaimDocument, *, filename: str) -> Response:
    """The document as an attachment to save, never shown inline or cached (what it shows is
    the parties' and staff's only)."""
    return Response(
        document.content,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
