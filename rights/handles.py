"""Handles that cannot impersonate: one holder per look-alike skeleton, kept after retirement.

Each asset holds the skeleton (clearhouse/names.fold) of its handle in `handle_reservation`,
whose primary key is the skeleton: the check is one indexed lookup, and of two look-alike
handles registered at the same moment the database lets one insert win (on PostgreSQL the
second waits for the first's commit, then fails; SQLite has one writer at a time).
"""

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clearhouse.db import utcnow
from clearhouse.names import fold
from clearhouse.settings import Settings
from rights.errors import HandleTaken
from rights.models import Asset, HandleReservation


def hold(session: Session, *, asset: Asset, handle: str) -> None:
    """Reserve ``handle``'s skeleton for ``asset`` or raise HandleTaken."""
    skeleton = fold(handle)
    try:
        with session.begin_nested():
            session.add(HandleReservation(skeleton=skeleton, asset_id=asset.id))
        return
    except IntegrityError:
        pass
    # Held already: by this asset (a handle it gave up and takes back), or by a reservation
    # that has run out. Taking it over is one guarded UPDATE, so two cannot both succeed.
    taken_over = session.execute(
        update(HandleReservation)
        .where(
            HandleReservation.skeleton == skeleton,
            (HandleReservation.asset_id == asset.id)
            | (HandleReservation.reserved_until <= utcnow()),
        )
        .values(asset_id=asset.id, reserved_until=None)
    ).rowcount
    if not taken_over:
        raise handle_taken(handle)


def handle_taken(handle: str) -> HandleTaken:
    return HandleTaken(
        f"@{handle} reads like a handle in use or recently retired (letters that look "
        "alike, digits for letters and separators count as the same); choose another."
    )


def retire(session: Session, *, asset: Asset, handle: str, settings: Settings) -> None:
    """The asset gives ``handle`` up: nobody else takes it for ``handle_reserved_days``."""
    session.execute(
        update(HandleReservation)
        .where(
            HandleReservation.skeleton == fold(handle),
            HandleReservation.asset_id == asset.id,
            HandleReservation.reserved_until.is_(None),
        )
        .values(reserved_until=utcnow() + timedelta(days=settings.handle_reserved_days))
    )


def change(session: Session, *, asset: Asset, old: str, new: str, settings: Settings) -> None:
    """The asset's handle goes from ``old`` to ``new``: hold the new one, retire the old one."""
    hold(session, asset=asset, handle=new)
    if fold(old) != fold(new):
        retire(session, asset=asset, handle=old, settings=settings)
