"""One object by id, for the account it belongs to: another account's object is not found, just
like one that does not exist, so nobody learns which ids are someone else's."""

import uuid
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from clearhouse.errors import ClearhouseError

Owned = TypeVar("Owned", bound=SQLModel)


def owned(
    session: Session,
    model: type[Owned],
    object_id: uuid.UUID,
    *,
    owner_column: Any,
    owner_id: uuid.UUID,
    not_found: ClearhouseError,
    for_update: bool = False,
) -> Owned:
    """The ``model`` row with id ``object_id`` whose ``owner_column`` (``Clearance.requester_id``)
    is ``owner_id``; else ``not_found``, the domain's own error and message, is raised.
    ``for_update`` locks the row until the transaction ends."""
    query = select(model).where(model.id == object_id, owner_column == owner_id)
    found = session.exec(query.with_for_update() if for_update else query).first()
    if found is None:
        raise not_found
    return found
