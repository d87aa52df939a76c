"""Organisations and agents in the portal: an organisation's page (its members, their roles,
inviting and removing them), and the agents section of the signed-in person's account page,
with the invitations sent and, once the address is verified, those received
(clearhouse/portal/invitation_pages.py answers them).

They call the service functions behind the API's routes (rights/members.py,
rights/invitations.py), with the same checks: an organisation the account is not a member of
is a 404 page, a member whose role does not allow a change gets a 403 page, and every change
is in the audit log.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlmodel import Session

from clearhouse.accounts.models import Account
from clearhouse.deps import ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import Conflict, InvalidRequest
from clearhouse.portal.pages import PageRoute, field_errors, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalAccount, PortalHolder
from clearhouse.rate_limit import RateLimited, RateLimiterDep
from rights import invitations, members
from rights.authority import Action, may
from rights.member_schemas import AgentAdd, MemberAdd, OrganisationCreate
from rights.models import InvitationKind, MemberRole

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Text = Annotated[str, Form(max_length=400)]


@router.get("/organisations")
def organisations_page(request: Request, account: PortalHolder, session: ReadSessionDep):
    return _organisations(request, session, account)


@router.post("/organisations", dependencies=[CsrfChecked])
def create_organisation(
    request: Request,
    account: PortalHolder,
    session: SessionDep,
    settings: SettingsDep,
    name: Text = "",
):
    try:
        data = OrganisationCreate(name=name)
    except ValidationError as invalid:
        return _organisations(
            request,
            session,
            account,
            form={"name": name},
            errors=field_errors(invalid),
            status_code=400,
        )
    organisation = members.create_organisation(
        session, creator=account, name=data.name, settings=settings
    )
    return see_other(f"/organisations/{organisation.id}")


@router.get("/organisations/{organisation_id}")
def organisation_page(
    request: Request, organisation_id: uuid.UUID, account: PortalAccount, session: ReadSessionDep
):
    return _organisation(request, session, account, organisation_id)


@router.post("/organisations/{organisation_id}/members", dependencies=[CsrfChecked])
def add_member(
    request: Request,
    organisation_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    email: Text = "",
    role: Text = "",
):
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.administer
    )
    form = {"email": email, "role": role}
    try:
        data = MemberAdd(email=email, role=role)
        limiter.limit_invitations(account_id=account.id)
        invitations.invite_member(
            session,
            actor=account,
            organisation=organisation,
            email=data.email,
            role=data.role,
            settings=settings,
        )
    except ValidationError as invalid:
        errors = field_errors(invalid)
        return _organisation(
            request, session, account, organisation_id, form=form, errors=errors, status_code=400
        )
    except (InvalidRequest, Conflict, RateLimited) as refused:
        session.rollback()
        return _organisation(
            request,
            session,
            account,
            organisation_id,
            form=form,
            errors={"email": refused.detail},
            status_code=refused.status_code,
        )
    return see_other(f"/organisations/{organisation_id}")


@router.post(
    "/organisations/{organisation_id}/members/{member_id}/role", dependencies=[CsrfChecked]
)
def change_role(
    request: Request,
    organisation_id: uuid.UUID,
    member_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
    role: Text = "",
):
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.administer
    )
    if role not in {r.value for r in MemberRole}:
        raise InvalidRequest("Choose owner, manager or viewer.")
    try:
        members.change_role(
            session,
            actor=account,
            organisation=organisation,
            account_id=member_id,
            role=MemberRole(role),
        )
    except Conflict as refused:  # the last owner stays one
        return _members_refused(request, session, account, organisation_id, refused)
    return see_other(f"/organisations/{organisation_id}")


@router.post(
    "/organisations/{organisation_id}/members/{member_id}/remove", dependencies=[CsrfChecked]
)
def remove_member(
    request: Request,
    organisation_id: uuid.UUID,
    member_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
):
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.administer
    )
    try:
        members.remove_member(
            session, actor=account, organisation=organisation, account_id=member_id
        )
    except Conflict as refused:  # the last owner stays one
        return _members_refused(request, session, account, organisation_id, refused)
    return see_other(f"/organisations/{organisation_id}")


@router.get("/account")
def account_page(request: Request, account: PortalAccount, session: ReadSessionDep):
    return _account(
        request,
        session,
        account,
    )


@router.post("/account/agents", dependencies=[CsrfChecked])
def authorise_agent(
    request: Request,
    account: PortalHolder,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    email: Text = "",
):
    try:
        data = AgentAdd(email=email)
        limiter.limit_invitations(account_id=account.id)
        invitations.invite_agent(session, person=account, email=data.email, settings=settings)
    except ValidationError as invalid:
        return _account(
            request,
            session,
            account,
            form={"email": email},
            errors=field_errors(invalid),
            status_code=400,
        )
    except (InvalidRequest, Conflict, RateLimited) as refused:
        session.rollback()
        return _account(
            request,
            session,
            account,
            form={"email": email},
            errors={"email": refused.detail},
            status_code=refused.status_code,
        )
    return see_other("/account")


@router.post("/account/agents/{agent_id}/remove", dependencies=[CsrfChecked])
def remove_agent(agent_id: uuid.UUID, account: PortalAccount, session: SessionDep):
    members.remove_agent(session, person=account, agent_id=agent_id)
    return see_other("/account")


def _members_refused(
    request: Request,
    session: Session,
    account: Account,
    organisation_id: uuid.UUID,
    refused: Conflict,
):
    session.rollback()
    errors = {"members": refused.detail}
    return _organisation(request, session, account, organisation_id, errors=errors, status_code=409)


def _shown(form_state: dict) -> dict:
    """A page's form as typed, its errors and its status: none of them, the first time."""
    return {"form": {}, "errors": {}, **form_state}


def _organisations(request: Request, session: Session, account: Account, **form_state):
    return render(
        request,
        "organisations/list.html",
        account=account,
        title="Your organisations",
        organisations=members.my_organisations(session, account=account),
        **_shown(form_state),
    )


def _organisation(
    request: Request, session: Session, account: Account, organisation_id: uuid.UUID, **form_state
):
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.view
    )
    return render(
        request,
        "organisations/organisation.html",
        account=account,
        title=organisation.name,
        organisation=organisation,
        members=members.members_of(session, organisation_id=organisation.id),
        may_administer=may(
            session, account_id=account.id, action=Action.administer, owner_id=organisation.id
        ),
        invited=[
            view
            for view in invitations.sent(session, account=account)
            if view.invitation.organisation_id == organisation.id
        ],
        roles=list(MemberRole),
        **_shown(form_state),
    )


def _account(request: Request, session: Session, account: Account, **form_state):
    return render(
        request,
        "account.html",
        account=account,
        title="Your account",
        agents=members.agents_of(session, person=account),
        invited=[
            view
            for view in invitations.sent(session, account=account)
            if view.invitation.kind == InvitationKind.agent
        ],
        received=(
            invitations.received(session, account=account) if account.email_verified_at else []
        ),
        **_shown(form_state),
    )
