"""API shapes of organisations, their members, and agents."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

from clearhouse.schemas import RequestBody
from rights.models import InvitationKind, InvitationState, MemberRole
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
    email: EmailStr = Field(
        description="Where to send the invitation: the account that signs in with it joins "
        "once it accepts."
    )
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
    email: EmailStr = Field(
        description="Where to send the invitation: the account that signs in with it acts for "
        "you once it accepts."
    )


class AgentPublic(BaseModel):
    agent_id: uuid.UUID
    display_name: str
    email: str
    authorised_at: datetime


class InvitationPublic(BaseModel):
    """The same for every address: never whether an account signs in with it."""

    id: uuid.UUID
    kind: InvitationKind = Field(description="`agent`: to act for who sent it; `member`: to join.")
    email: str = Field(description="The address it was sent to, as typed.")
    role: MemberRole | None = Field(description="The role offered; none for an agent.")
    organisation_id: uuid.UUID | None
    organisation_name: str | None
    invited_by: str = Field(description="The display name of whoever sent it.")
    state: InvitationState
    created_at: datetime
    expires_at: datetime = Field(description="It can no longer be accepted from then on.")
