"""The database session the operator's commands work in."""

from sqlmodel import Session

from clearhouse.settings import Settings


def migrated_session(settings: Settings) -> Session:
    """A write session on the settings' database, migrated first (the operator's commands)."""
    from clearhouse.db import build_engine, writer
    from clearhouse.migrations import upgrade_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(
        settings.resolved_database_url, likeness_key_store=settings.likeness_key_store_path
    )
    return Session(writer(build_engine(settings.resolved_database_url)), expire_on_commit=False)
