"""API shapes of organisations, their members, and agents."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

from clearhouse.schemas import RequestBody
from rights.models import MemberRole
from rights.schemas import Name


class OrganisationCreate(RequestBody):
    name: Annotated[Name, Field(max_length=120)] = Field(
        description="Its display name: an organisation is an account (at most 120 characters)."
    )


class OrganisationPublic(BaseModel):
    id: uuid.UUID = Field(description="Also the owner_id of the assets it holds.")
    name: str
    role: MemberRole = Field(description="Your role in it.")
    created_at: datetime


class MemberAdd(RequestBody):
    email: EmailStr = Field(description="The address of an account that has signed up.")
    role: MemberRole


class MemberChange(RequestBody):
    role: MemberRole


class MemberPublic(BaseModel):
    account_id: uuid.UUID
    display_name: str
    email: str
    role: MemberRole
    added_at: datetime


class AgentAdd(RequestBody):
    email: EmailStr = Field(description="The address of the agent's account.")


class AgentPublic(BaseModel):
    agent_id: uuid.UUID
    display_name: str
    email: str
    authorised_at: datetime
