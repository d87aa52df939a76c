"""Overlap cases as moderators and owners see them, and the moderators' decisions.

Moderators see every case and decide it: keep the existing owner (the claimant's asset is
inactive for good) or uphold the claimant (the claimant's asset becomes the active one; the
existing asset becomes inactive and its grants are revoked through the ordinary revocation,
so released clips are taken down and withdrawal receipts issued; a protected entry is
retired and linked to the asset). An owner sees the cases they are a party to, and of the
other side only the other asset's public handle (or the protected entry's name).
"""

import uuid

from sqlmodel import Session, col, or_, select

from audit.service import record_event
from clearhouse.accounts.models import STAFF_ROLES, Account
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.keys import KeyRing
from clearhouse.pagination import PageParams, paginate
from clearhouse.settings import Settings
from notifications.service import notify_all
from rights import service as rights
from rights.authority import Action, may
from rights.errors import CaseAlreadyDecided, PartyToCase
from rights.matching import store as text_catalogue
from rights.models import Asset, AssetStanding
from rights.overlaps.cases import case_notices
from rights.overlaps.models import OverlapCase, OverlapStatus
from rights.protected.models import ProtectedEntry


def visible_cases(
    session: Session,
    *,
    viewer: Account,
    status: OverlapStatus | None,
    asset_id: uuid.UUID | None,
    params: PageParams,
) -> tuple[list[OverlapCase], int]:
    """Moderators see every case; an owner, those about one of their assets."""
    query = select(OverlapCase).order_by(OverlapCase.created_at, OverlapCase.id)
    if viewer.role not in STAFF_ROLES:
        query = query.where(
            or_(OverlapCase.claimant_id == viewer.id, OverlapCase.existing_owner_id == viewer.id)
        )
    if status is not None:
        query = query.where(OverlapCase.status == status)
    if asset_id is not None:
        query = query.where(
            or_(
                OverlapCase.claimant_asset_id == asset_id,
                OverlapCase.existing_asset_id == asset_id,
            )
        )
    return paginate(session, query, params)


def visible_case(session: Session, *, viewer: Account, case_id: uuid.UUID) -> OverlapCase:
    case = session.get(OverlapCase, case_id)
    if case is None or (
        viewer.role not in STAFF_ROLES
        and viewer.id not in (case.claimant_id, case.existing_owner_id)
    ):
        raise NotFound("No overlap case with this id that you are a party to.")
    return case


def case_parties(
    session: Session, cases: list[OverlapCase]
) -> tuple[dict[uuid.UUID, Asset], dict[uuid.UUID, ProtectedEntry]]:
    """The assets and protected entries of ``cases``, by id, in two queries."""
    asset_ids = {c.claimant_asset_id for c in cases} | {
        c.existing_asset_id for c in cases if c.existing_asset_id
    }
    entry_ids = {c.protected_entry_id for c in cases if c.protected_entry_id}
    assets = session.exec(select(Asset).where(col(Asset.id).in_(asset_ids))).all()
    entries = (
        session.exec(select(ProtectedEntry).where(col(ProtectedEntry.id).in_(entry_ids))).all()
        if entry_ids
        else []
    )
    return {a.id: a for a in assets}, {e.id: e for e in entries}


def decide_case(
    session: Session,
    *,
    moderator: Account,
    case_id: uuid.UUID,
    uphold_claimant: bool,
    note: str | None,
    settings: Settings,
    keys: KeyRing,
) -> OverlapCase:
    """Decide an open case (see the module's docstring); audited on the claimant's asset,
    and on the existing asset when it loses."""
    case = session.exec(
        select(OverlapCase).where(OverlapCase.id == case_id).with_for_update()
    ).first()
    if case is None:
        raise NotFound("No overlap case with this id.")
    owners = [owner for owner in (case.claimant_id, case.existing_owner_id) if owner is not None]
    # A party: an owner, or whoever may see an owner's assets (an organisation's members, in
    # every role), as for a claim or a dispute.
    if any(
        may(session, account_id=moderator.id, action=Action.view, owner_id=owner)
        for owner in owners
    ):
        raise PartyToCase(
            "You own one of the assets in this case, so another moderator must decide it."
        )
    if case.status != OverlapStatus.open:
        raise CaseAlreadyDecided(f"This case was decided already ({case.status.value}).")
    claimant = _locked_asset(session, case.claimant_asset_id)
    if uphold_claimant:
        if case.existing_asset_id is not None:
            _deactivate(
                session,
                asset=_locked_asset(session, case.existing_asset_id),
                moderator=moderator,
                case=case,
                settings=settings,
                keys=keys,
            )
        else:
            entry = session.get(ProtectedEntry, case.protected_entry_id)
            entry.retired_at, entry.claimed_by_asset_id = utcnow(), claimant.id
            text_catalogue.stamp_change(session, entry)
        case.status = OverlapStatus.claimant_upheld
        if (
            claimant.deleted_at is None
            and claimant.standing == AssetStanding.in_review
            and not _other_open_cases(session, case)
        ):
            claimant.standing = AssetStanding.active
            text_catalogue.stamp_change(session, claimant)  # matched and licensable from now
    else:
        case.status = OverlapStatus.existing_kept
        _deactivate(
            session, asset=claimant, moderator=moderator, case=case, settings=settings, keys=keys
        )
    case.resolved_at, case.resolved_by, case.resolution_note = utcnow(), moderator.id, note
    session.add_all([case, claimant])
    record_event(
        session,
        action=f"overlap.{case.status.value}",
        actor_id=moderator.id,
        asset_id=claimant.id,
        details={
            "case_id": str(case.id),
            "existing_asset_id": str(case.existing_asset_id) if case.existing_asset_id else None,
            "protected_entry_id": str(case.protected_entry_id) if case.protected_entry_id else None,
            "standing": claimant.standing.value,
            "note": note,
        },
    )
    notify_all(session, case_notices(case, opened=False))
    session.flush()
    return case


def _locked_asset(session: Session, asset_id: uuid.UUID) -> Asset:
    return session.exec(select(Asset).where(Asset.id == asset_id).with_for_update()).one()


def _other_open_cases(session: Session, case: OverlapCase) -> bool:
    return (
        session.exec(
            select(OverlapCase.id).where(
                OverlapCase.claimant_asset_id == case.claimant_asset_id,
                OverlapCase.status == OverlapStatus.open,
                OverlapCase.id != case.id,
            )
        ).first()
        is not None
    )


def _deactivate(
    session: Session,
    *,
    asset: Asset,
    moderator: Account,
    case: OverlapCase,
    settings: Settings,
    keys: KeyRing,
) -> None:
    """The asset that lost the case: inactive, and every grant of it withdrawn as its owner's
    revocation would be (takedowns, receipts, audit)."""
    revoked = rights.revoke_asset_grants(
        session,
        asset=asset,
        reason=f"overlap case {case.id}: moderators decided it belongs to another holder",
        settings=settings,
        keys=keys,
        actor=moderator,
    )
    asset.standing = AssetStanding.inactive
    session.add(asset)
    text_catalogue.stamp_change(session, asset)
    if asset.id != case.claimant_asset_id:
        record_event(
            session,
            action="asset.deactivated",
            actor_id=moderator.id,
            asset_id=asset.id,
            details={"case_id": str(case.id), "grants_revoked": len(revoked)},
        )
