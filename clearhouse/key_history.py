"""Every signing key's public half, kept for good: receipts outlive key rotations.

A consent receipt or an audit checkpoint may be checked years after it was signed. When an
operator rotates the receipt key, the old key's public half stays in this table, in
``/.well-known/jwks.json`` and in verification, so what it signed still verifies.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Column, Field, Session, SQLModel, select

from clearhouse.db import JSONDocument, UTCDateTime, utcnow
from clearhouse.keys import KeyRing, SigningKey, VerificationKey


class PublishedKey(SQLModel, table=True):
    __tablename__ = "published_key"

    kid: str = Field(primary_key=True, max_length=64, description="RFC 7638 thumbprint.")
    purpose: str = Field(max_length=32)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    first_used_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


def remember_keys(session: Session, ring: KeyRing) -> KeyRing:
    """Record the keys in force; return the ring with every earlier receipt key added."""
    for key in (ring.access, ring.receipts):
        _remember(session, key)
    earlier = session.exec(
        select(PublishedKey).where(
            PublishedKey.purpose == ring.receipts.purpose, PublishedKey.kid != ring.receipts.kid
        )
    )
    retired = {
        row.kid: VerificationKey.from_public_jwk(row.purpose, row.public_jwk) for row in earlier
    }
    return KeyRing(access=ring.access, receipts=ring.receipts, retired_receipts=retired)


def _remember(session: Session, key: SigningKey) -> None:
    if session.get(PublishedKey, key.kid) is not None:
        return
    try:
        with session.begin_nested():
            session.add(PublishedKey(kid=key.kid, purpose=key.purpose, public_jwk=key.public_jwk))
    except IntegrityError:  # another process recorded it first
        pass
