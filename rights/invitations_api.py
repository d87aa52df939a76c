"""Routes of invitations: the invitee's (its address verified) to list, accept and decline,
the sender's to list and withdraw. Anyone else's invitation is a 404, like one that does
not exist."""

import uuid

from fastapi import APIRouter, status

from clearhouse.accounts.dependencies import VerifiedAccount
from clearhouse.deps import CurrentAccount, ReadSessionDep, SessionDep
from clearhouse.errors import Conflict, NotFound, raises
from rights import invitations
from rights.invitations import InvitationView
from rights.member_schemas import InvitationPublic

router = APIRouter(prefix="/v1/invitations", tags=["invitations"])


@router.get("", response_model=list[InvitationPublic])
def list_received(account: VerifiedAccount, session: ReadSessionDep):
    """The pending invitations to your address, oldest first: to act as someone's agent or
    to join an organisation. Only once your address is verified."""
    return [invitation_public(view) for view in invitations.received(session, account=account)]


@router.get("/sent", response_model=list[InvitationPublic])
def list_sent(account: CurrentAccount, session: ReadSessionDep):
    """Your pending invitations, oldest first: none says whether anyone signs in with its
    address."""
    return [invitation_public(view) for view in invitations.sent(session, account=account)]


@router.post("/{invitation_id}/accept", response_model=InvitationPublic)
@raises(NotFound, Conflict)
def accept(invitation_id: uuid.UUID, account: VerifiedAccount, session: SessionDep):
    """You act for whoever sent it, or join their organisation in the role it offers, from
    now on."""
    return invitation_public(
        invitations.accept(session, account=account, invitation_id=invitation_id)
    )


@router.post("/{invitation_id}/decline", status_code=status.HTTP_204_NO_CONTENT)
@raises(NotFound)
def decline(invitation_id: uuid.UUID, account: VerifiedAccount, session: SessionDep):
    """Nothing is set up, and it can no longer be accepted."""
    invitations.decline(session, account=account, invitation_id=invitation_id)


@router.delete("/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
@raises(NotFound)
def withdraw(invitation_id: uuid.UUID, account: CurrentAccount, session: SessionDep):
    """Take back a pending invitation you sent: it can no longer be accepted."""
    invitations.withdraw(session, account=account, invitation_id=invitation_id)


def invitation_public(view: InvitationView) -> InvitationPublic:
    invitation = view.invitation
    return InvitationPublic(
        id=invitation.id,
        kind=invitation.kind,
        email=invitation.email,
        role=invitation.role,
        organisation_id=invitation.organisation_id,
        organisation_name=view.organisation_name,
        invited_by=view.invited_by,
        state=invitation.state,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )
