"""Who an audit entry names, in words its reader knows: "You", a member's or an agent's name,
"Staff", "Clearhouse" (nobody here acted: a task, Stripe), or "Another account".

A name is shown only for the accounts of the log's holder's circle: the holder, its members
and agents now, and those it ever added (its own entries name them; they saw the members'
list while members). Anyone else (a dispute's opener, say) stays unnamed, as the API shows
only their id.
"""

import uuid
from collections.abc import Iterable

from sqlmodel import Session, col, select

from audit.models import AuditEntry
from clearhouse.accounts.models import STAFF_ROLES, Account
from rights.models import AgentAuthorisation, OrganisationMember

CIRCLE_EVENTS = ("organisation.member_added", "agent.authorised")
NAMED_IN_DETAILS = ("member_id", "agent_id")


def _ids(values: Iterable[object]) -> set[uuid.UUID]:
    found = set()
    for value in values:
        try:
            found.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    return found


def named(entry: AuditEntry) -> set[uuid.UUID]:
    """The accounts an entry names: who acted, and a member or an agent it is about."""
    details = entry.body.get("details") or {}
    return _ids(
        value
        for value in (entry.body.get("actor_id"), *(details.get(k) for k in NAMED_IN_DETAILS))
        if value
    )


def circle_of(session: Session, holder_id: uuid.UUID) -> set[uuid.UUID]:
    members = session.exec(
        select(OrganisationMember.account_id).where(OrganisationMember.organisation_id == holder_id)
    ).all()
    agents = session.exec(
        select(AgentAuthorisation.agent_id).where(AgentAuthorisation.person_id == holder_id)
    ).all()
    added = session.exec(
        select(AuditEntry.body).where(
            AuditEntry.subject_id == holder_id, col(AuditEntry.action).in_(CIRCLE_EVENTS)
        )
    ).all()
    ever = _ids((body.get("details") or {}).get(k) for body in added for k in NAMED_IN_DETAILS)
    return {holder_id, *members, *agents, *ever}


def labels(
    session: Session, *, reader: Account, holder_id: uuid.UUID, entries: list[AuditEntry]
) -> dict[str, str]:
    """Each account the entries name (by its id as written), as ``reader`` reads it."""
    ids = set().union(*(named(entry) for entry in entries)) if entries else set()
    if not ids:
        return {}
    circle = circle_of(session, holder_id)
    accounts = session.exec(select(Account).where(col(Account.id).in_(ids))).all()
    return {str(account.id): _label(account, reader=reader, circle=circle) for account in accounts}


def _label(account: Account, *, reader: Account, circle: set[uuid.UUID]) -> str:
    if account.id == reader.id:
        return "You"
    if account.id in circle:
        return account.display_name
    if account.role in STAFF_ROLES:
        return "Staff"
    return "Another account"
