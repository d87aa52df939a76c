"""Which audit entries each reader sees: an owner's, one asset's, an organisation's.

Who may read them is decided by the routes (rights/authority.py); these only say which
entries belong. An entry is an asset's (its ``asset_id``) or an account's (its ``subject_id``:
an organisation's changes, a person's agents). A person's agent changes belong to their
likenesses too, since an agent manages the person's likenesses and nothing else.
"""

import uuid

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from audit.models import AuditEntry
from clearhouse.pagination import PageParams, paginate
from rights.models import Asset, AssetKind

AGENT_EVENTS = ("agent.authorised", "agent.removed")
"""The person's own events that their likenesses' logs show (rights/members.py records them)."""


def _agent_events_of(person_id: uuid.UUID):
    return (AuditEntry.subject_id == person_id) & col(AuditEntry.action).in_(AGENT_EVENTS)


def _assets_of(owner_id: uuid.UUID):
    """The owner's assets, deleted ones included: their history stays theirs to read."""
    return select(Asset.id).where(Asset.owner_id == owner_id)


def owner_entries(owner_id: uuid.UUID) -> SelectOfScalar[AuditEntry]:
    """The entries about the owner's assets, and the changes of their agents."""
    return select(AuditEntry).where(
        or_(col(AuditEntry.asset_id).in_(_assets_of(owner_id)), _agent_events_of(owner_id))
    )


def asset_entries(asset: Asset) -> SelectOfScalar[AuditEntry]:
    """The asset's entries; a likeness's also has its person's agent changes."""
    own = AuditEntry.asset_id == asset.id
    if asset.kind == AssetKind.likeness:
        return select(AuditEntry).where(or_(own, _agent_events_of(asset.owner_id)))
    return select(AuditEntry).where(own)


def organisation_entries(organisation_id: uuid.UUID) -> SelectOfScalar[AuditEntry]:
    """The organisation's own changes (it was made, members came, changed role, left, it
    chose where it is paid) and the entries about the assets it holds."""
    return select(AuditEntry).where(
        or_(
            AuditEntry.subject_id == organisation_id,
            col(AuditEntry.asset_id).in_(_assets_of(organisation_id)),
        )
    )


def list_entries(
    session: Session,
    query: SelectOfScalar[AuditEntry],
    *,
    newest_first: bool,
    params: PageParams,
) -> tuple[list[AuditEntry], int]:
    order = col(AuditEntry.seq).desc() if newest_first else col(AuditEntry.seq)
    return paginate(session, query.order_by(order), params)
