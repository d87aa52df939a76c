"""Alembic migrations of every package's tables, applied on start or by `clearhouse db upgrade`."""

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(database_url: str, *, likeness_key_store: Path | None = None) -> Config:
    """``likeness_key_store``: the key store file that revision 0005 moves data keys into."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["database_url"] = database_url
    config.attributes["likeness_key_store"] = likeness_key_store
    return config


def upgrade_database(
    database_url: str, revision: str = "head", *, likeness_key_store: Path | None = None
) -> None:
    command.upgrade(alembic_config(database_url, likeness_key_store=likeness_key_store), revision)
