"""Routes of organisations, their members, and a person's agents.

Every one needs a signed-in session (no API key): who may act for whom is not a service's to
change. An organisation the caller is not a member of is a 404, like one that does not exist.
"""

import uuid

from fastapi import APIRouter, status

from clearhouse.deps import CurrentAccount, HolderAccount, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import Conflict, InvalidRequest, NotFound, raises
from clearhouse.rate_limit import RateLimited, RateLimiterDep, RateLimiterUnavailable
from rights import invitations, members
from rights.authority import Action
from rights.errors import NotAllowed
from rights.invitations_api import invitation_public
from rights.member_schemas import (
    AgentAdd,
    AgentPublic,
    InvitationPublic,
    MemberAdd,
    MemberChange,
    MemberPublic,
    OrganisationCreate,
    OrganisationPublic,
)
from rights.models import MemberRole, OrganisationMember

router = APIRouter(prefix="/v1")


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationPublic,
    tags=["organisations"],
)
def create_organisation(
    body: OrganisationCreate, owner: HolderAccount, session: SessionDep, settings: SettingsDep
):
    """A studio or an agency that holds assets; you are its first owner. Register assets for
    it with `organisation_id` on `POST /v1/assets`: it is paid for their uses."""
    organisation = members.create_organisation(
        session, creator=owner, name=body.name, settings=settings
    )
    return _organisation(organisation, MemberRole.owner)


@router.get("/organisations", response_model=list[OrganisationPublic], tags=["organisations"])
def list_organisations(account: CurrentAccount, session: ReadSessionDep):
    """The organisations you are a member of, with your role in each."""
    return [
        _organisation(organisation, member.role)
        for organisation, member in members.my_organisations(session, account=account)
    ]


@router.get(
    "/organisations/{organisation_id}/members",
    response_model=list[MemberPublic],
    tags=["organisations"],
)
@raises(NotFound)
def list_members(organisation_id: uuid.UUID, account: CurrentAccount, session: ReadSessionDep):
    """Open to its members, whatever their role."""
    members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.view
    )
    return [
        _member(member, person)
        for member, person in members.members_of(session, organisation_id=organisation_id)
    ]


@router.post(
    "/organisations/{organisation_id}/members",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InvitationPublic,
    tags=["organisations"],
)
@raises(NotFound, NotAllowed, Conflict, RateLimited, RateLimiterUnavailable)
def add_member(
    organisation_id: uuid.UUID,
    body: MemberAdd,
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
):
    """Invite the account at an address in a role: `owner` (everything, members too),
    `manager` (policies, prices, consent, approvals) or `viewer` (usage and statements).
    Owners only. The answer is the same whether anyone signs in with the address: they join
    only once they accept (`POST /v1/invitations/{id}/accept`), before it expires."""
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.administer
    )
    limiter.limit_invitations(account_id=account.id)
    return invitation_public(
        invitations.invite_member(
            session,
            actor=account,
            organisation=organisation,
            email=body.email,
            role=body.role,
            settings=settings,
        )
    )


@router.patch(
    "/organisations/{organisation_id}/members/{account_id}",
    response_model=MemberPublic,
    tags=["organisations"],
)
@raises(NotFound, NotAllowed, Conflict)
def change_role(
    organisation_id: uuid.UUID,
    account_id: uuid.UUID,
    body: MemberChange,
    account: CurrentAccount,
    session: SessionDep,
):
    """Owners only; the last owner stays one."""
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.administer
    )
    member = members.change_role(
        session, actor=account, organisation=organisation, account_id=account_id, role=body.role
    )
    return _member(member, session.get(type(account), account_id))


@router.delete(
    "/organisations/{organisation_id}/members/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["organisations"],
)
@raises(NotFound, NotAllowed, Conflict)
def remove_member(
    organisation_id: uuid.UUID, account_id: uuid.UUID, account: CurrentAccount, session: SessionDep
):
    """Owners only, and the last owner stays. The member's next request is refused."""
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.administer
    )
    members.remove_member(session, actor=account, organisation=organisation, account_id=account_id)


@router.post(
    "/accounts/me/agents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InvitationPublic,
    tags=["agents"],
)
@raises(Conflict, InvalidRequest, RateLimited, RateLimiterUnavailable)
def authorise_agent(
    body: AgentAdd,
    person: HolderAccount,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
):
    """Invite another account to manage your likenesses' policies, prices and approvals.
    Consent stays yours: your agent may grant only a version within what you consented to
    (a new price, fewer uses), never let anyone new use your face. The answer is the same
    whether anyone signs in with the address: they act for you only once they accept."""
    limiter.limit_invitations(account_id=person.id)
    return invitation_public(
        invitations.invite_agent(session, person=person, email=body.email, settings=settings)
    )


@router.get("/accounts/me/agents", response_model=list[AgentPublic], tags=["agents"])
def list_agents(person: CurrentAccount, session: ReadSessionDep):
    return [_agent(*row) for row in members.agents_of(session, person=person)]


@router.delete(
    "/accounts/me/agents/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["agents"]
)
@raises(NotFound)
def remove_agent(agent_id: uuid.UUID, person: CurrentAccount, session: SessionDep):
    """Always open to you, whatever your role; the agent's next request is refused."""
    members.remove_agent(session, person=person, agent_id=agent_id)


def _organisation(organisation, role: MemberRole) -> OrganisationPublic:
    return OrganisationPublic(
        id=organisation.id, name=organisation.name, role=role, created_at=organisation.created_at
    )


def _member(member: OrganisationMember, person) -> MemberPublic:
    return MemberPublic(
        account_id=member.account_id,
        display_name=person.display_name,
        email=person.email,
        role=member.role,
        added_at=member.added_at,
    )


def _agent(authorisation, agent) -> AgentPublic:
    return AgentPublic(
        agent_id=authorisation.agent_id,
        display_name=agent.display_name,
        email=agent.email,
        authorised_at=authorisation.authorised_at,
    )
