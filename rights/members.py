"""Organisations and their members, and a person's agents: who acts for whom.

What each of them may do is decided in one place, rights/authority.py; this module only
keeps the rows it reads, and records every change in the audit log.
"""

import uuid

from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.accounts.service import lock_signed_in_account
from clearhouse.db import utcnow
from clearhouse.errors import Conflict, NotFound
from clearhouse.settings import Settings
from rights.authority import Action, may
from rights.errors import NotAllowed
from rights.models import (
    AgentAuthorisation,
    Invitation,
    MemberRole,
    Organisation,
    OrganisationMember,
)

UNUSABLE_PASSWORD_HASH = "!organisation"  # noqa: S105 (not a password: a hash nothing matches)


def create_organisation(
    session: Session, *, creator: Account, name: str, settings: Settings
) -> Organisation:
    """A new organisation, with ``creator`` as its first owner. Its own account (which no one
    signs in as: its password hash matches nothing) owns its assets and is paid for them."""
    lock_signed_in_account(session, account=creator)
    account = Account(
        email=f"organisation.{uuid.uuid4().hex}@organisations.invalid",
        password_hash=UNUSABLE_PASSWORD_HASH,
        display_name=name,
        date_of_birth=None,
        revenue_share_bps=settings.default_revenue_share_bps,
        email_verified_at=utcnow(),
    )
    session.add(account)
    session.flush()
    organisation = Organisation(id=account.id, name=name, created_by=creator.id)
    session.add(organisation)
    session.flush()
    session.add(
        OrganisationMember(
            organisation_id=organisation.id, account_id=creator.id, role=MemberRole.owner
        )
    )
    _record(session, creator, "organisation.created", organisation.id, {"name": name})
    session.flush()
    return organisation


def organisation_for(
    session: Session, *, account: Account, organisation_id: uuid.UUID, action: Action
) -> Organisation:
    """The organisation, if ``account`` is a member whose role allows ``action``. A member
    whose role does not is told so (403); anyone else is told it is not found."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or not may(
        session, account_id=account.id, action=Action.view, owner_id=organisation_id
    ):
        raise NotFound("No organisation with this id among yours.")
    if not may(session, account_id=account.id, action=action, owner_id=organisation_id):
        raise NotAllowed(f"Your role in {organisation.name} does not let you {action.value}.")
    return organisation


def my_organisations(
    session: Session, *, account: Account
) -> list[tuple[Organisation, OrganisationMember]]:
    return list(
        session.exec(
            select(Organisation, OrganisationMember)
            .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
            .where(OrganisationMember.account_id == account.id)
            .order_by(Organisation.name, Organisation.id)
        ).all()
    )


def members_of(
    session: Session, *, organisation_id: uuid.UUID
) -> list[tuple[OrganisationMember, Account]]:
    return list(
        session.exec(
            select(OrganisationMember, Account)
            .join(Account, Account.id == OrganisationMember.account_id)
            .where(OrganisationMember.organisation_id == organisation_id)
            .order_by(OrganisationMember.added_at, Account.id)
        ).all()
    )


def add_member(
    session: Session,
    *,
    actor: Account,
    organisation: Organisation,
    account: Account,
    role: MemberRole,
    invitation: Invitation,
) -> OrganisationMember:
    """``account`` joins in ``role``, having accepted ``actor``'s invitation
    (rights/invitations.py)."""
    if session.get(OrganisationMember, (organisation.id, account.id)) is not None:
        raise Conflict(f"You are a member of {organisation.name} already.")
    member = OrganisationMember(organisation_id=organisation.id, account_id=account.id, role=role)
    session.add(member)
    _record(
        session,
        actor,
        "organisation.member_added",
        organisation.id,
        {"member_id": str(account.id), "role": role.value, "invitation_id": str(invitation.id)},
    )
    session.flush()
    return member


def change_role(
    session: Session,
    *,
    actor: Account,
    organisation: Organisation,
    account_id: uuid.UUID,
    role: MemberRole,
) -> OrganisationMember:
    lock_signed_in_account(session, account=actor)
    member = _member(session, organisation=organisation, account_id=account_id)
    before = member.role
    if before == MemberRole.owner and role != MemberRole.owner:
        _keep_an_owner(session, organisation=organisation)
    member.role = role
    session.add(member)
    _record(
        session,
        actor,
        "organisation.role_changed",
        organisation.id,
        {"member_id": str(account_id), "before": before.value, "after": role.value},
    )
    session.flush()
    return member


def remove_member(
    session: Session, *, actor: Account, organisation: Organisation, account_id: uuid.UUID
) -> None:
    """Their next request is refused: every check reads the membership anew."""
    member = _member(session, organisation=organisation, account_id=account_id)
    if member.role == MemberRole.owner:
        _keep_an_owner(session, organisation=organisation)
    session.delete(member)
    _record(
        session,
        actor,
        "organisation.member_removed",
        organisation.id,
        {"member_id": str(account_id), "role": member.role.value},
    )
    session.flush()


def authorise_agent(
    session: Session, *, person: Account, agent: Account, invitation: Invitation
) -> AgentAuthorisation:
    """Let ``agent`` manage ``person``'s likenesses: policies, prices and approvals, never
    consent (rights/authority.py). ``agent`` accepted ``person``'s invitation
    (rights/invitations.py)."""
    if session.get(AgentAuthorisation, (person.id, agent.id)) is not None:
        raise Conflict(f"You act for {person.display_name} already.")
    authorisation = AgentAuthorisation(person_id=person.id, agent_id=agent.id)
    session.add(authorisation)
    _record(
        session,
        person,
        "agent.authorised",
        person.id,
        {"agent_id": str(agent.id), "invitation_id": str(invitation.id)},
    )
    session.flush()
    return authorisation


def agents_of(session: Session, *, person: Account) -> list[tuple[AgentAuthorisation, Account]]:
    return list(
        session.exec(
            select(AgentAuthorisation, Account)
            .join(Account, Account.id == AgentAuthorisation.agent_id)
            .where(AgentAuthorisation.person_id == person.id)
            .order_by(AgentAuthorisation.authorised_at, Account.id)
        ).all()
    )


def remove_agent(session: Session, *, person: Account, agent_id: uuid.UUID) -> None:
    """Always open to the person; the agent's next request is refused."""
    authorisation = session.get(AgentAuthorisation, (person.id, agent_id))
    if authorisation is None:
        raise NotFound("No agent with this id acts for you.")
    session.delete(authorisation)
    _record(session, person, "agent.removed", person.id, {"agent_id": str(agent_id)})
    session.flush()


def leave_organisations(session: Session, *, account: Account) -> list[Organisation]:
    """Take ``account`` out of every organisation it is in, whatever its role, and out of
    acting as anyone's agent: its address was taken from whoever signed up with it first
    (lifecycle.verify_email), and what that sign-up made or was given is not the new owner's.
    The organisations this leaves with no owner are returned, for the caller to close."""
    memberships = my_organisations(session, account=account)
    # Their accounts' rows locked first, before anything is recorded (the caller changes
    # nothing before this either). A grant for one of them takes its account's row
    # (rights.service.create_grant) and then writes to the audit chain: the other order would
    # deadlock with it. Taken here, the grant waits, then is refused (close_organisation).
    session.exec(
        select(Account.id)
        .where(col(Account.id).in_([organisation.id for organisation, _ in memberships]))
        .with_for_update()
    ).all()
    ownerless = []
    for organisation, member in memberships:
        session.delete(member)
        _record(
            session,
            account,
            "organisation.member_removed",
            organisation.id,
            {"member_id": str(account.id), "role": member.role.value},
        )
        session.flush()
        if not _owners(session, organisation=organisation):
            ownerless.append(organisation)
    for authorisation in session.exec(
        select(AgentAuthorisation).where(AgentAuthorisation.agent_id == account.id)
    ).all():
        session.delete(authorisation)
        _record(
            session,
            account,
            "agent.removed",
            authorisation.person_id,
            {"agent_id": str(account.id)},
        )
    session.flush()
    return ownerless


def close_organisation(session: Session, *, actor: Account, organisation: Organisation) -> Account:
    """Close an organisation that :func:`leave_organisations` left with no owner: its account
    is disabled and every member left leaves it. Its account is returned, for the caller to
    withdraw the consent given for it, as for any account disabled: nobody is left to
    withdraw it. A grant for it under way waits for its account's row (locked by
    :func:`leave_organisations`), then finds it disabled (rights.service.create_grant)."""
    account = session.get(Account, organisation.id)
    account.disabled_at = utcnow()
    session.add(account)
    left = [member for member, _ in members_of(session, organisation_id=organisation.id)]
    for member in left:
        session.delete(member)
    _record(
        session,
        actor,
        "organisation.closed",
        organisation.id,
        {"reason": "no owner left", "members_removed": [str(m.account_id) for m in left]},
    )
    session.flush()
    return account


def _member(
    session: Session, *, organisation: Organisation, account_id: uuid.UUID
) -> OrganisationMember:
    member = session.get(OrganisationMember, (organisation.id, account_id), with_for_update=True)
    if member is None:
        raise NotFound("No member with this id in this organisation.")
    return member


def _owners(session: Session, *, organisation: Organisation) -> list[uuid.UUID]:
    """Its owners, their rows locked: a concurrent change of owners waits for this one."""
    return list(
        session.exec(
            select(OrganisationMember.account_id)
            .where(
                OrganisationMember.organisation_id == organisation.id,
                OrganisationMember.role == MemberRole.owner,
            )
            .with_for_update()
        ).all()
    )


def _keep_an_owner(session: Session, *, organisation: Organisation) -> None:
    if len(_owners(session, organisation=organisation)) < 2:
        raise Conflict(
            f"{organisation.name} would have no owner left: make another member an owner first."
        )


def _record(
    session: Session, actor: Account, action: str, subject_id: uuid.UUID, details: dict
) -> None:
    """Organisation and agent changes are about an account, not one asset: its subject (the
    organisation, or the person) is the account whose log shows them (audit/reading.py)."""
    record_event(
        session,
        action=action,
        actor_id=actor.id,
        asset_id=None,
        subject_id=subject_id,
        details=details,
    )
