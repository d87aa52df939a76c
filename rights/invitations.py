"""Invitations to act as someone's agent or to join an organisation, sent to an address.

The sender is answered the same whether an account signs in with the address or not: the
invitation, never the account. The relation exists only once the account at that address,
its address verified, accepts (rights/members.py makes it then); until then, or if it
declines, nothing is set up. An invitation to an address nobody has signed up with waits
until it expires: whoever signs up with it and verifies it in time finds it.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, select

from clearhouse.accounts.models import Account
from clearhouse.accounts.service import lock_signed_in_account
from clearhouse.db import utcnow
from clearhouse.errors import Conflict, InvalidRequest, NotFound
from clearhouse.settings import Settings
from notifications.kinds import NoticeKind
from notifications.service import notify
from rights import members
from rights.authority import Action, may
from rights.models import (
    AgentAuthorisation,
    Invitation,
    InvitationKind,
    InvitationState,
    MemberRole,
    Organisation,
    OrganisationMember,
)


@dataclass(frozen=True)
class InvitationView:
    """An invitation with the names its sender and its recipient both may read: who sent it
    and, for a membership, the organisation's."""

    invitation: Invitation
    invited_by: str
    organisation_name: str | None


def invite_agent(
    session: Session, *, person: Account, email: str, settings: Settings
) -> InvitationView:
    """Invite the account at ``email`` to manage ``person``'s likenesses."""
    address = _locked_address(session, inviter=person, email=email)
    if address == person.email:
        raise InvalidRequest("You manage your own likenesses already; name another account.")
    if session.exec(
        select(AgentAuthorisation)
        .join(Account, Account.id == AgentAuthorisation.agent_id)
        .where(AgentAuthorisation.person_id == person.id, Account.email == address)
    ).first():
        raise Conflict(f"{email} is your agent already.")
    return _invite(
        session,
        inviter=person,
        kind=InvitationKind.agent,
        email=email,
        address=address,
        settings=settings,
    )


def invite_member(
    session: Session,
    *,
    actor: Account,
    organisation: Organisation,
    email: str,
    role: MemberRole,
    settings: Settings,
) -> InvitationView:
    """Invite the account at ``email`` into ``organisation`` in ``role``; ``actor`` may
    administer it (members.organisation_for)."""
    address = _locked_address(session, inviter=actor, email=email)
    if session.exec(
        select(OrganisationMember)
        .join(Account, Account.id == OrganisationMember.account_id)
        .where(OrganisationMember.organisation_id == organisation.id, Account.email == address)
    ).first():
        raise Conflict(f"{email} is a member already; change their role instead.")
    return _invite(
        session,
        inviter=actor,
        kind=InvitationKind.member,
        email=email,
        address=address,
        settings=settings,
        organisation=organisation,
        role=role,
    )


def received(session: Session, *, account: Account) -> list[InvitationView]:
    """The pending invitations to ``account``'s address, unexpired, oldest first."""
    return _views(
        session,
        select(Invitation)
        .join(Account, Account.id == Invitation.inviter_id)
        .where(
            Invitation.address == account.email,
            Account.disabled_at.is_(None),
            *_open(utcnow()),
        ),
    )


def sent(session: Session, *, account: Account) -> list[InvitationView]:
    """``account``'s pending invitations, unexpired, oldest first."""
    return _views(
        session,
        select(Invitation).where(Invitation.inviter_id == account.id, *_open(utcnow())),
    )


def accept(session: Session, *, account: Account, invitation_id: uuid.UUID) -> InvitationView:
    """Make the relation the invitation offers; ``account``'s address must be verified (the
    caller's check) and be the one it was sent to."""
    found = _addressed_to(session, account=account, invitation_id=invitation_id)
    # Both accounts' rows before the invitation's, as a takeover of either takes them before
    # it ends their invitations (lifecycle.verify_email): it waits for this, or this for it.
    lock_signed_in_account(session, account=account)
    inviter = session.get(Account, found.inviter_id, with_for_update={"key_share": True})
    invitation = _addressed_to(session, account=account, invitation_id=invitation_id, lock=True)
    if inviter.disabled_at is not None:
        raise Conflict("Whoever invited you has left; nothing was set up.")
    if invitation.kind == InvitationKind.agent:
        members.authorise_agent(session, person=inviter, agent=account, invitation=invitation)
    else:
        organisation = session.get(Organisation, invitation.organisation_id)
        if not may(
            session, account_id=inviter.id, action=Action.administer, owner_id=organisation.id
        ):
            raise Conflict(
                f"Whoever invited you may no longer add members to {organisation.name}; "
                "ask its owners for a new invitation."
            )
        members.add_member(
            session,
            actor=inviter,
            organisation=organisation,
            account=account,
            role=invitation.role,
            invitation=invitation,
        )
    _answer(session, invitation, InvitationState.accepted)
    return _view(session, invitation)


def decline(session: Session, *, account: Account, invitation_id: uuid.UUID) -> None:
    """Say no: nothing is set up, and the invitation can no longer be accepted."""
    invitation = _addressed_to(session, account=account, invitation_id=invitation_id, lock=True)
    _answer(session, invitation, InvitationState.declined)


def withdraw(session: Session, *, account: Account, invitation_id: uuid.UUID) -> Invitation:
    """Its sender takes a pending invitation back: it can no longer be accepted."""
    invitation = session.exec(
        select(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.inviter_id == account.id,
            *_open(utcnow()),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if invitation is None:
        raise NotFound("No pending invitation of yours with this id.")
    _answer(session, invitation, InvitationState.withdrawn)
    return invitation


def end_invitations(session: Session, *, account: Account) -> None:
    """End every pending invitation ``account`` sent or that was sent to its address: the
    address was taken from whoever signed up with it first (lifecycle.verify_email), and
    what that sign-up asked of others, or was asked, is not the new owner's."""
    session.execute(
        update(Invitation)
        .where(
            or_(Invitation.inviter_id == account.id, Invitation.address == account.email),
            Invitation.state == InvitationState.pending,
        )
        .values(state=InvitationState.ended, answered_at=utcnow())
    )


def erase_invitations(session: Session, *, account: Account, erased_address: str) -> None:
    """Deleting ``account``: its pending invitations, sent or received, end, and its address
    is erased from every invitation ever sent to it (``erased_address`` in its place)."""
    end_invitations(session, account=account)
    session.execute(
        update(Invitation)
        .where(Invitation.address == account.email)
        .values(email=erased_address, address=erased_address)
    )


def _invite(
    session: Session,
    *,
    inviter: Account,
    kind: InvitationKind,
    email: str,
    address: str,
    settings: Settings,
    organisation: Organisation | None = None,
    role: MemberRole | None = None,
) -> InvitationView:
    """Store the invitation to ``email`` (``address`` as stored, from :func:`_locked_address`)
    and tell the verified account there, if any."""
    now = utcnow()
    organisation_id = organisation.id if organisation else None
    if session.exec(
        select(Invitation).where(
            Invitation.inviter_id == inviter.id,
            Invitation.kind == kind,
            Invitation.organisation_id == organisation_id,
            Invitation.address == address,
            *_open(now),
        )
    ).first():
        raise Conflict(f"You invited {email} already; withdraw that invitation first.")
    invitation = Invitation(
        kind=kind,
        inviter_id=inviter.id,
        organisation_id=organisation_id,
        role=role,
        email=email,
        address=address,
        created_at=now,
        expires_at=now + timedelta(days=settings.invitation_days),
    )
    session.add(invitation)
    session.flush()
    invitee = _verified_account_at(session, address)
    if invitee is not None:
        facts = {
            "invitation_id": str(invitation.id),
            "kind": kind.value,
            "invited_by": inviter.display_name,
            "expires_at": invitation.expires_at.isoformat(),
        }
        if organisation is not None:
            facts |= {"organisation": organisation.name, "role": role.value}
        notify(session, invitee.id, NoticeKind.invitation_received, [invitation.id], facts, now=now)
    return InvitationView(invitation, inviter.display_name, organisation and organisation.name)


def _locked_address(session: Session, *, inviter: Account, email: str) -> str:
    """``email`` as invitations store it, with ``inviter``'s row locked first: a takeover of
    the inviter's address waits for this invitation, then ends it (end_invitations)."""
    lock_signed_in_account(session, account=inviter)
    return _address(email)


def _verified_account_at(session: Session, address: str) -> Account | None:
    """The account that signs in with ``address`` and has proved it reads its mail: only it
    is told (a squatter's unverified sign-up learns nothing of who invites the address)."""
    return session.exec(
        select(Account).where(
            Account.email == address,
            Account.email_verified_at.is_not(None),
            Account.deleted_at.is_(None),
            Account.disabled_at.is_(None),
        )
    ).first()


def _addressed_to(
    session: Session, *, account: Account, invitation_id: uuid.UUID, lock: bool = False
) -> Invitation:
    query = select(Invitation).where(
        Invitation.id == invitation_id, Invitation.address == account.email, *_open(utcnow())
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    invitation = session.exec(query).first()
    if invitation is None:
        raise NotFound("No pending invitation to you with this id.")
    return invitation


def _answer(session: Session, invitation: Invitation, state: InvitationState) -> None:
    invitation.state = state
    invitation.answered_at = utcnow()
    session.add(invitation)
    session.flush()


def _open(now: datetime) -> tuple:
    return (Invitation.state == InvitationState.pending, Invitation.expires_at > now)


def _address(email: str) -> str:
    return email.strip().lower()


def _views(session: Session, query) -> list[InvitationView]:
    return [
        _view(session, invitation)
        for invitation in session.exec(query.order_by(Invitation.created_at, Invitation.id)).all()
    ]


def _view(session: Session, invitation: Invitation) -> InvitationView:
    inviter = session.get(Account, invitation.inviter_id)
    organisation = (
        session.get(Organisation, invitation.organisation_id)
        if invitation.organisation_id
        else None
    )
    return InvitationView(
        invitation, inviter.display_name, organisation.name if organisation else None
    )
