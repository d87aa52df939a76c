"""Staff routes of protected entries: well-known characters, styles and public figures that
nobody has registered, whose matches deny as "protected, not licensed"."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from clearhouse.deps import ModeratorAccount, ReadSessionDep, SessionDep
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from rights.matching.runtime import MatchingDep
from rights.matching.store import TextVectors
from rights.protected import service
from rights.protected.errors import ProtectedEntryExists, UnreadableName
from rights.protected.models import ProtectedKind
from rights.protected.schemas import (
    ProtectedEntryCreate,
    ProtectedEntryPublic,
    ProtectedEntryUpdate,
)

router = APIRouter(prefix="/v1", tags=["protected"])


def _new_description(body: ProtectedEntryCreate, matching: MatchingDep) -> TextVectors:
    return matching.embed_texts([body.description.strip()])


def _changed_description(body: ProtectedEntryUpdate, matching: MatchingDep) -> TextVectors:
    return matching.embed_texts([(body.description or "").strip()])


# Declared before the route's session: the model runs before the write transaction begins.
NewDescription = Annotated[TextVectors, Depends(_new_description)]
ChangedDescription = Annotated[TextVectors, Depends(_changed_description)]


@router.post("/protected", status_code=status.HTTP_201_CREATED, response_model=ProtectedEntryPublic)
@raises(ProtectedEntryExists, UnreadableName)
def create_entry(
    vectors: NewDescription,
    body: ProtectedEntryCreate,
    staff: ModeratorAccount,
    session: SessionDep,
):
    """Protect a character, style or public figure that nobody holds here: prompts naming it
    (however disguised) or describing it are denied as "protected, not licensed". A holder
    who registers it opens an overlap case, a claim that moderators decide."""
    return service.create_entry(session, staff=staff, data=body, vectors=vectors)


@router.get("/protected", response_model=Page[ProtectedEntryPublic])
def list_entries(
    staff: ModeratorAccount,
    session: ReadSessionDep,
    paging: Paging,
    kind: Annotated[ProtectedKind | None, Query(description="Only of this kind.")] = None,
):
    rows, total = service.list_entries(session, kind=kind, params=paging)
    return Page(items=rows, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/protected/{entry_id}", response_model=ProtectedEntryPublic)
@raises(NotFound)
def read_entry(entry_id: uuid.UUID, staff: ModeratorAccount, session: ReadSessionDep):
    return service.get_entry(session, entry_id)


@router.patch("/protected/{entry_id}", response_model=ProtectedEntryPublic)
@raises(NotFound, ProtectedEntryExists, UnreadableName)
def update_entry(
    vectors: ChangedDescription,
    entry_id: uuid.UUID,
    body: ProtectedEntryUpdate,
    staff: ModeratorAccount,
    session: SessionDep,
):
    entry = service.get_entry(session, entry_id)
    return service.update_entry(session, staff=staff, entry=entry, changes=body, vectors=vectors)


@router.delete("/protected/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
@raises(NotFound)
def delete_entry(entry_id: uuid.UUID, staff: ModeratorAccount, session: SessionDep):
    """Stop protecting it: prompts that name it are no longer denied for it."""
    service.delete_entry(session, staff=staff, entry=service.get_entry(session, entry_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
