"""Tables of the audit log: its entries and the head of the chain."""

import uuid
from typing import Any

from sqlalchemy import BigInteger
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument


class AuditEntry(SQLModel, table=True):
    """One event of the append-only, hash-chained audit log.

    ``hash`` is SHA-256 over the previous entry's hash and this entry's canonical ``body``;
    the columns beside ``body`` are copies kept for querying, checked against it on verify.
    """

    __tablename__ = "audit_entry"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    asset_id: uuid.UUID | None = Field(default=None, index=True)
    subject_id: uuid.UUID | None = Field(
        default=None,
        index=True,
        description="The account an event without an asset is about (an organisation, or the "
        "person whose agents changed): a copy of the body's ``details.subject_id``.",
    )
    action: str = Field(max_length=64)
    body: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    prev_hash: str = Field(max_length=64, unique=True, description="Forks are impossible.")
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The chain's last entry, updated with every append (one row).

    Appends lock it, which serialises them; and it exposes a deleted tail entry.
    """

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)
