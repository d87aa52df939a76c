"""Answering invitations in the portal: the invitee accepts or declines one on the account
page (only once their address is verified, as on the API), and its sender withdraws one from
the page that lists it. Anyone else's invitation is a 404 page."""

import uuid

from fastapi import APIRouter

from clearhouse.deps import SessionDep
from clearhouse.portal.pages import PageRoute, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalAccount, PortalVerified
from rights import invitations

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.post("/invitations/{invitation_id}/accept", dependencies=[CsrfChecked])
def accept(invitation_id: uuid.UUID, account: PortalVerified, session: SessionDep):
    accepted = invitations.accept(session, account=account, invitation_id=invitation_id).invitation
    if accepted.organisation_id:
        return see_other(f"/organisations/{accepted.organisation_id}")
    return see_other("/account")


@router.post("/invitations/{invitation_id}/decline", dependencies=[CsrfChecked])
def decline(invitation_id: uuid.UUID, account: PortalVerified, session: SessionDep):
    invitations.decline(session, account=account, invitation_id=invitation_id)
    return see_other("/account")


@router.post("/invitations/{invitation_id}/withdraw", dependencies=[CsrfChecked])
def withdraw(invitation_id: uuid.UUID, account: PortalAccount, session: SessionDep):
    withdrawn = invitations.withdraw(session, account=account, invitation_id=invitation_id)
    if withdrawn.organisation_id:
        return see_other(f"/organisations/{withdrawn.organisation_id}")
    return see_other("/account")
