"""Operator settings, read from ``CLEARHOUSE_*`` environment variables (or a ``.env`` file)."""

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARHOUSE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("./var"),
        description="Keys, the SQLite database and media live here.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; by default a SQLite file (WAL) in the data dir.",
    )
    migrate_on_start: bool = Field(default=True, description="Apply Alembic migrations on start.")

    issuer: str = Field(default="clearhouse", description="`iss` of tokens and receipts.")
    audience: str = Field(default="clearhouse-api", description="`aud` of access tokens.")
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    access_token_key_pem: str | None = Field(
        default=None, description="ES256 private key (PEM) for access tokens; else a key file."
    )
    receipt_key_pem: str | None = Field(
        default=None, description="ES256 private key (PEM) for consent receipts; else a key file."
    )

    password_hash_time_cost: int = Field(default=3, ge=1, description="argon2id passes.")
    password_hash_memory_kib: int = Field(
        default=64 * 1024, ge=8, description="argon2id memory (RFC 9106's second choice: 64 MiB)."
    )

    controller_name: str = Field(default="Clearhouse", description="Data controller on receipts.")
    controller_contact: str = Field(default="privacy@clearhouse.example")
    jurisdiction: str = Field(default="EU", description="Jurisdiction named on consent receipts.")
    policy_url: str = Field(default="https://clearhouse.example/privacy")

    default_revenue_share_bps: int = Field(
        default=8000, ge=0, le=10_000, description="A new holder's share of each licence fee."
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'clearhouse.db').resolve()}"

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"
