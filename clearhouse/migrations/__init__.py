"""Alembic migrations of every package's tables, applied on start or by `clearhouse db upgrade`."""

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from clearhouse.sealed_secrets import SecretSealer
    from clearhouse.settings import Settings

HERE = Path(__file__).parent


def alembic_config(
    database_url: str,
    *,
    likeness_key_store: Path | None = None,
    secret_sealer: "SecretSealer | None" = None,
) -> Config:
    """``likeness_key_store``: the key store file that revision 0005 moves data keys into;
    ``secret_sealer``: what seals (revision 0027) and opens webhook secrets."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["database_url"] = database_url
    config.attributes["likeness_key_store"] = likeness_key_store
    config.attributes["secret_sealer"] = secret_sealer
    return config


def upgrade_database(
    database_url: str,
    revision: str = "head",
    *,
    likeness_key_store: Path | None = None,
    secret_sealer: "SecretSealer | None" = None,
) -> None:
    config = alembic_config(
        database_url, likeness_key_store=likeness_key_store, secret_sealer=secret_sealer
    )
    command.upgrade(config, revision)


def upgrade_installation(settings: "Settings", revision: str = "head") -> None:
    """Migrate the settings' database with the installation's own key store and secrets key,
    which some revisions move or seal data with."""
    from clearhouse.sealed_secrets import secret_sealer

    upgrade_database(
        settings.resolved_database_url,
        revision,
        likeness_key_store=settings.likeness_key_store_path,
        secret_sealer=secret_sealer(settings),
    )
