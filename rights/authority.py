"""Who may do what with an asset: the one answer every route's ownership check asks.

An asset is owned by a person or by an organisation (whose id is its own account's). Besides
the owner, an organisation's members act in their role, a person's agents manage their
likenesses, and the verified estate of a deceased person acts for them. Each question reads
the database at the moment it is asked, so a removed member or agent is refused on their next
request: there is no cached role.
"""

import uuid
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from rights.models import (
    AgentAuthorisation,
    Asset,
    AssetKind,
    MemberRole,
    OrganisationMember,
)


class Action(StrEnum):
    view = "view"  # the asset, its policies, grants, usage and statements
    manage = "manage"  # policies, prices and approvals
    consent = "consent"  # grant a policy version: let others use the asset
    withdraw = "withdraw"  # revoke grants
    administer = "administer"  # change or delete the asset; an organisation's members


ROLE_ACTIONS: dict[MemberRole, frozenset[Action]] = {
    MemberRole.owner: frozenset(Action),
    MemberRole.manager: frozenset({Action.view, Action.manage, Action.consent, Action.withdraw}),
    MemberRole.viewer: frozenset({Action.view}),
}
AGENT_ACTIONS = frozenset({Action.view, Action.manage})
"""An agent never consents for the person: granting a likeness stays theirs (see
rights/service.create_grant for the one grant an agent may make, a new price within the
consent the person gave)."""
ESTATE_ACTIONS = frozenset({Action.view, Action.manage, Action.consent, Action.withdraw})
DECEASED_OWNER_ACTIONS = frozenset({Action.view, Action.withdraw, Action.administer})
"""Once a likeness is reported as a deceased person's, its account may still see, withdraw and
delete it (a report may be false, and a face's deletion is always its person's), never
consent or manage: that is for a verified estate."""


def may(
    session: Session,
    *,
    account_id: uuid.UUID,
    action: Action,
    owner_id: uuid.UUID,
    asset: Asset | None = None,
) -> bool:
    """Whether ``account_id`` may do ``action`` on an object owned by ``owner_id`` (a person
    or an organisation); ``asset``, when the object is one, for agents and estates."""
    if asset is not None and asset.deceased_reported_at is not None:
        if asset.estate_account_id == account_id:
            return action in ESTATE_ACTIONS
        return owner_id == account_id and action in DECEASED_OWNER_ACTIONS
    if owner_id == account_id:
        return True
    role = member_role(session, organisation_id=owner_id, account_id=account_id)
    if role is not None:
        return action in ROLE_ACTIONS[role]
    if asset is not None and asset.kind == AssetKind.likeness and action in AGENT_ACTIONS:
        return is_agent(session, person_id=owner_id, agent_id=account_id)
    return False


def member_role(
    session: Session, *, organisation_id: uuid.UUID, account_id: uuid.UUID
) -> MemberRole | None:
    return session.exec(
        select(OrganisationMember.role).where(
            OrganisationMember.organisation_id == organisation_id,
            OrganisationMember.account_id == account_id,
        )
    ).first()


def acts_for(session: Session, *, account_id: uuid.UUID, person_id: uuid.UUID) -> bool:
    """Whether ``account_id`` is the person, or the person's agent (a party to what is the
    person's, as for deciding a case about them)."""
    return account_id == person_id or is_agent(session, person_id=person_id, agent_id=account_id)


def is_agent(session: Session, *, person_id: uuid.UUID, agent_id: uuid.UUID) -> bool:
    return (
        session.exec(
            select(AgentAuthorisation.agent_id).where(
                AgentAuthorisation.person_id == person_id, AgentAuthorisation.agent_id == agent_id
            )
        ).first()
        is not None
    )


def assets_in_reach(session: Session, *, account_id: uuid.UUID, action: Action) -> ColumnElement:
    """A condition on :class:`Asset` that holds for the assets ``account_id`` may do
    ``action`` on, for listings: the same answer as :func:`may`, asset by asset."""
    roles = [role for role, actions in ROLE_ACTIONS.items() if action in actions]
    organisations = session.exec(
        select(OrganisationMember.organisation_id).where(
            OrganisationMember.account_id == account_id, col(OrganisationMember.role).in_(roles)
        )
    ).all()
    alive = col(Asset.deceased_reported_at).is_(None)
    own = Asset.owner_id == account_id
    if action not in DECEASED_OWNER_ACTIONS:
        own = and_(own, alive)
    reach = [own, and_(col(Asset.owner_id).in_(organisations), alive)]
    if action in AGENT_ACTIONS:
        persons = session.exec(
            select(AgentAuthorisation.person_id).where(AgentAuthorisation.agent_id == account_id)
        ).all()
        reach.append(
            and_(col(Asset.owner_id).in_(persons), Asset.kind == AssetKind.likeness, alive)
        )
    if action in ESTATE_ACTIONS:
        reach.append(and_(Asset.estate_account_id == account_id, ~alive))
    return or_(false(), *reach)
