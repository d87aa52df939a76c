"""API shapes of policy versions."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from policies.document import NOBODY, PolicyDocument
from policies.models import PolicyVersion


class PolicyVersionPublic(BaseModel):
    asset_id: uuid.UUID
    version: int = Field(description="0 is the default that admits nobody (never stored).")
    policy: PolicyDocument
    revenue_share_bps: int = Field(description="The holder's share of fees, set by Clearhouse.")
    created_at: datetime | None

    @classmethod
    def of(cls, row: PolicyVersion) -> "PolicyVersionPublic":
        return cls(
            asset_id=row.asset_id,
            version=row.version,
            policy=PolicyDocument.from_stored(row.document),
            revenue_share_bps=row.revenue_share_bps,
            created_at=row.created_at,
        )

    @classmethod
    def default_for(cls, asset_id: uuid.UUID) -> "PolicyVersionPublic":
        return cls(
            asset_id=asset_id, version=0, policy=NOBODY, revenue_share_bps=0, created_at=None
        )
