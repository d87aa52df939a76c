"""The database the operator's commands work on, migrated first."""

from typing import TYPE_CHECKING

from sqlmodel import Session

from clearhouse.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def migrated_engine(settings: Settings) -> "Engine":
    """An engine on the settings' database, migrated first."""
    from clearhouse.db import build_engine
    from clearhouse.migrations import upgrade_installation

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_installation(settings)
    return build_engine(settings.resolved_database_url)


def migrated_session(settings: Settings) -> Session:
    """A write session on the settings' database, migrated first (the operator's commands)."""
    from clearhouse.db import writer

    return Session(writer(migrated_engine(settings)), expire_on_commit=False)
