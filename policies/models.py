"""Policy versions: every change to an asset's policy is a new, immutable row."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, new_id, utcnow


class PolicyVersion(SQLModel, table=True):
    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("asset_id", "version"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="RESTRICT")
    version: int = Field(ge=1, description="1, 2, 3... per asset; the highest is in force.")
    document: dict[str, Any] = Field(
        sa_column=Column(JSONDocument, nullable=False), description="A PolicyDocument."
    )
    revenue_share_bps: int = Field(
        description="The holder's share of fees under this version, from their account terms."
    )
    created_by: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
