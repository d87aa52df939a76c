"""Queries of the rights registry, scoped by owner: another holder's object is not found."""

import uuid

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from policies.models import PolicyVersion
from rights.authority import Action, assets_in_reach, may
from rights.models import (
    Asset,
    AssetKind,
    ConsentGrant,
    ConsentReceipt,
    GrantStatus,
    ReceiptEvent,
)

# Built once: nearly every request about an asset runs one of these, and building a query
# and its cache key costs more than SQLite takes to answer it.
_ASSET = select(Asset).where(Asset.id == bindparam("asset_id"))
_LIVE_ASSET = _ASSET.where(Asset.deleted_at.is_(None))


def get_owned_asset(
    session: Session,
    *,
    account_id: uuid.UUID,
    asset_id: uuid.UUID,
    include_deleted: bool = False,
    action: Action = Action.administer,
) -> Asset:
    """The asset, if ``account_id`` may do ``action`` on it (rights/authority.py): its owner,
    a member of its organisation in a role that may, its owner's agent or its estate. Anyone
    else is told it is not found, as if it did not exist."""
    query = _ASSET if include_deleted else _LIVE_ASSET
    asset = session.exec(query, params={"asset_id": asset_id}).first()
    if asset is None or not may(
        session, account_id=account_id, action=action, owner_id=asset.owner_id, asset=asset
    ):
        raise NotFound("No asset with this id among yours.")
    return asset


def list_owned_assets(
    session: Session,
    *,
    owner_id: uuid.UUID,
    kind: AssetKind | None,
    params: PageParams,
    action: Action = Action.view,
) -> tuple[list[Asset], int]:
    """The live assets ``owner_id`` may do ``action`` on: their own and those they act for."""
    in_reach = assets_in_reach(session, account_id=owner_id, action=action)
    query = select(Asset).where(in_reach, Asset.deleted_at.is_(None))
    if kind is not None:
        query = query.where(Asset.kind == kind)
    return paginate(session, query.order_by(Asset.created_at, Asset.id), params)


def get_owned_grant(
    session: Session,
    *,
    account_id: uuid.UUID,
    grant_id: uuid.UUID,
    action: Action,
    for_update: bool = False,
) -> tuple[ConsentGrant, Asset]:
    """The grant and its asset, if ``account_id`` may do ``action`` on the asset."""
    query = (
        select(ConsentGrant, Asset)
        .join(Asset, Asset.id == ConsentGrant.asset_id)
        .where(ConsentGrant.id == grant_id)
    )
    if for_update:
        query = query.with_for_update(of=ConsentGrant)
    row = session.exec(query).first()
    if row is None or not may(
        session, account_id=account_id, action=action, owner_id=row[1].owner_id, asset=row[1]
    ):
        raise NotFound("No grant with this id on your assets.")
    return row


def grants_with_policies(
    session: Session,
    *,
    asset_id: uuid.UUID,
    status: GrantStatus | None = None,
    params: PageParams | None = None,
    for_update: bool = False,
) -> tuple[list[tuple[ConsentGrant, PolicyVersion]], int]:
    query = (
        select(ConsentGrant, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == ConsentGrant.policy_version_id)
        .where(ConsentGrant.asset_id == asset_id)
        .order_by(ConsentGrant.granted_at, ConsentGrant.id)
    )
    if status is not None:
        query = query.where(ConsentGrant.status == status)
    if for_update:
        query = query.with_for_update(of=ConsentGrant)
    if params is not None:
        return paginate(session, query, params)
    rows = list(session.exec(query).all())
    return rows, len(rows)


def get_owned_receipt(
    session: Session, *, account_id: uuid.UUID, receipt_id: uuid.UUID
) -> ConsentReceipt:
    """A receipt of an asset the account may see: its own, an organisation's it is a member
    of, a likeness it is the person's agent for or the estate of."""
    receipt = session.get(ConsentReceipt, receipt_id)
    grant = session.get(ConsentGrant, receipt.grant_id) if receipt is not None else None
    if grant is None or not may(
        session,
        account_id=account_id,
        action=Action.view,
        owner_id=receipt.owner_id,
        asset=session.get(Asset, grant.asset_id),
    ):
        raise NotFound("No receipt with this id among yours.")
    return receipt


def grant_status(session: Session, grant_id: uuid.UUID) -> GrantStatus | None:
    """The hot lookup behind every clearance: one indexed read of one column."""
    return session.exec(select(ConsentGrant.status).where(ConsentGrant.id == grant_id)).first()


def withdrawal_receipt_id(session: Session, grant_id: uuid.UUID) -> uuid.UUID | None:
    return session.exec(
        select(ConsentReceipt.id).where(
            ConsentReceipt.grant_id == grant_id,
            ConsentReceipt.event == ReceiptEvent.consent_withdrawn,
        )
    ).first()


def active_grant_counts(session: Session, *, asset_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many active grants each of these assets has (absent: none); the caller passes ids
    it already read with the owner's id."""
    if not asset_ids:
        return {}
    rows = session.exec(
        select(ConsentGrant.asset_id, func.count())
        .where(
            col(ConsentGrant.asset_id).in_(asset_ids),
            ConsentGrant.status == GrantStatus.active,
        )
        .group_by(ConsentGrant.asset_id)
    ).all()
    return dict(rows)


def owned_grants(
    session: Session,
    *,
    owner_id: uuid.UUID,
    asset_id: uuid.UUID | None,
    status: GrantStatus | None,
    params: PageParams,
) -> tuple[list[tuple[ConsentGrant, PolicyVersion, Asset]], int]:
    """The owner's grants across their assets (deleted ones too), newest first."""
    query = (
        select(ConsentGrant, PolicyVersion, Asset)
        .join(Asset, Asset.id == ConsentGrant.asset_id)
        .join(PolicyVersion, PolicyVersion.id == ConsentGrant.policy_version_id)
        .where(Asset.owner_id == owner_id)
    )
    if asset_id is not None:
        query = query.where(ConsentGrant.asset_id == asset_id)
    if status is not None:
        query = query.where(ConsentGrant.status == status)
    order = (ConsentGrant.granted_at.desc(), ConsentGrant.id)
    return paginate(session, query.order_by(*order), params)


def owned_receipts_of(
    session: Session, *, owner_id: uuid.UUID, grant_ids: list[uuid.UUID]
) -> list[ConsentReceipt]:
    """The owner's receipts of these grants, oldest first."""
    if not grant_ids:
        return []
    return list(
        session.exec(
            select(ConsentReceipt)
            .where(ConsentReceipt.owner_id == owner_id, ConsentReceipt.grant_id.in_(grant_ids))
            .order_by(ConsentReceipt.issued_at, ConsentReceipt.id)
        ).all()
    )


def assets_with_active_grants(session: Session, *, owner_id: uuid.UUID) -> set[uuid.UUID]:
    """The owner's assets that some active grant lets be used: what there is to withdraw."""
    return set(
        session.exec(
            select(ConsentGrant.asset_id)
            .join(Asset, Asset.id == ConsentGrant.asset_id)
            .where(Asset.owner_id == owner_id, ConsentGrant.status == GrantStatus.active)
            .distinct()
        ).all()
    )
