"""Alembic environment: the metadata of every package's tables, one engine per run."""

from alembic import context
from sqlmodel import SQLModel

from clearhouse.db import build_engine
from clearhouse.tables import import_all_tables

import_all_tables()
config = context.config


def run_migrations() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    engine = build_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
