"""Whose money a payouts or statements request is about: the signed-in account's own, or an
organisation's it acts for.

An organisation's assets earn for the organisation (its own account holds the payable and is
paid), so its members read its payouts and statements with its id, as their role allows, and
only its owners set up where it is paid. A member whose role does not allow it is told so
(403); anyone else is told the organisation is not found.
"""

import uuid
from typing import Annotated

from fastapi import Query
from sqlalchemy import Engine
from sqlmodel import Session

from clearhouse.accounts.models import Account
from clearhouse.db import read_session
from rights.authority import Action
from rights.members import organisation_for

OrganisationQuery = Annotated[
    uuid.UUID | None,
    Query(description="An organisation you are a member of: its money instead of yours."),
]


def payee_for(
    session: Session, *, account: Account, organisation_id: uuid.UUID | None, action: Action
) -> Account:
    """``account`` itself, or the organisation ``organisation_id``'s own account when
    ``account`` may do ``action`` for it."""
    if organisation_id is None:
        return account
    organisation = organisation_for(
        session, account=account, organisation_id=organisation_id, action=action
    )
    payee = session.get(Account, organisation.id)
    if payee is None:  # made with the organisation, in the same transaction
        raise LookupError(f"organisation {organisation.id} has no account")
    return payee


def payee_of(engine: Engine, *, account: Account, organisation_id: uuid.UUID | None) -> Account:
    """:func:`payee_for` to read (any member), in a session of its own: for the statement
    downloads, which read the ledger in a snapshot of their own."""
    with read_session(engine) as session:
        return payee_for(
            session, account=account, organisation_id=organisation_id, action=Action.view
        )
