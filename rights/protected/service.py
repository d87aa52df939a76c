"""Keeping protected entries: staff add, change and remove them, one at a time or from a
CSV file (importing.py). Every change is stamped on the text catalogue, so every process
matches it from its next refresh, and audited."""

import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from rights.matching import store
from rights.matching.folding import fold_prompt
from rights.protected.errors import ProtectedEntryExists, UnreadableName
from rights.protected.models import ProtectedEntry, ProtectedKind
from rights.protected.schemas import ProtectedEntryCreate, ProtectedEntryUpdate


def name_key(name: str) -> str:
    """The name as prompts are folded (look-alikes, digits, separators): one entry per key."""
    key = fold_prompt(name).letters
    if not key:
        raise UnreadableName(f"“{name}” has no letters or digits to match prompts by.")
    return key[:200]


def find_live(session: Session, *, kind: ProtectedKind, key: str) -> ProtectedEntry | None:
    return session.exec(
        select(ProtectedEntry).where(
            ProtectedEntry.kind == kind,
            ProtectedEntry.name_key == key,
            col(ProtectedEntry.deleted_at).is_(None),
        )
    ).first()


def create_entry(
    session: Session, *, staff: Account, data: ProtectedEntryCreate, vectors: store.TextVectors
) -> ProtectedEntry:
    key = name_key(data.name)
    existing = find_live(session, kind=data.kind, key=key)
    if existing is not None:
        raise ProtectedEntryExists(
            f"“{existing.name}” ({data.kind.value}) is protected already as {existing.id}; "
            "change it with PATCH /v1/protected/{id}.".replace("{id}", str(existing.id))
        )
    entry = ProtectedEntry(**data.model_dump(), name_key=key, created_by=staff.id)
    store.set_entry_embedding(entry, vectors)
    store.stamp_change(session, entry)
    session.flush()
    _audit(session, "protected.created", staff=staff, entry=entry)
    return entry


def update_entry(
    session: Session,
    *,
    staff: Account,
    entry: ProtectedEntry,
    changes: ProtectedEntryUpdate,
    vectors: store.TextVectors,
) -> ProtectedEntry:
    fields = changes.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in fields:
        key = name_key(fields["name"])
        other = find_live(session, kind=entry.kind, key=key)
        if other is not None and other.id != entry.id:
            raise ProtectedEntryExists(f"“{other.name}” is protected already as {other.id}.")
        entry.name_key = key
    for name, value in fields.items():
        setattr(entry, name, value)
    if "description" in fields:
        store.set_entry_embedding(entry, vectors)
    entry.updated_at = utcnow()
    store.stamp_change(session, entry)
    _audit(session, "protected.updated", staff=staff, entry=entry, details=fields)
    return entry


def delete_entry(session: Session, *, staff: Account, entry: ProtectedEntry) -> None:
    entry.deleted_at = utcnow()
    store.stamp_change(session, entry)
    _audit(session, "protected.deleted", staff=staff, entry=entry)


def get_entry(session: Session, entry_id: uuid.UUID) -> ProtectedEntry:
    entry = session.get(ProtectedEntry, entry_id)
    if entry is None or entry.deleted_at is not None:
        raise NotFound("No protected entry with this id.")
    return entry


def list_entries(
    session: Session, *, kind: ProtectedKind | None, params: PageParams
) -> tuple[list[ProtectedEntry], int]:
    query = select(ProtectedEntry).where(col(ProtectedEntry.deleted_at).is_(None))
    if kind is not None:
        query = query.where(ProtectedEntry.kind == kind)
    return paginate(session, query.order_by(ProtectedEntry.name_key, ProtectedEntry.id), params)


@dataclass(frozen=True)
class Imported:
    """What one imported row did to the entries."""

    entry: ProtectedEntry
    change: str  # "created", "updated" or "unchanged"


def import_entry(
    session: Session, *, staff: Account, data: ProtectedEntryCreate, vectors: store.TextVectors
) -> Imported:
    """Create the entry, or bring the live one of the same kind and name up to the row: the
    same file imported twice changes nothing the second time."""
    existing = find_live(session, kind=data.kind, key=name_key(data.name))
    if existing is None:
        return Imported(create_entry(session, staff=staff, data=data, vectors=vectors), "created")
    wanted = {"name": data.name, "aliases": data.aliases, "description": data.description}
    if all(getattr(existing, field) == value for field, value in wanted.items()):
        return Imported(existing, "unchanged")
    update = ProtectedEntryUpdate(**wanted)
    return Imported(
        update_entry(session, staff=staff, entry=existing, changes=update, vectors=vectors),
        "updated",
    )


def _audit(
    session: Session,
    action: str,
    *,
    staff: Account,
    entry: ProtectedEntry,
    details: dict | None = None,
) -> None:
    record_event(
        session,
        action=action,
        actor_id=staff.id,
        asset_id=None,
        details={"protected_entry_id": str(entry.id), "kind": entry.kind.value, "name": entry.name}
        | (details or {}),
    )
