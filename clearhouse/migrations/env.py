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
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by rebuilding it (batch mode); dropping the old table with
            # foreign keys on would cascade-delete every row that points at it. The pragma only
            # takes outside a transaction, so it goes to the driver's connection before any.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(
                    f"the migration left rows whose foreign keys point nowhere: {broken}"
                )
    engine.dispose()


run_migrations()
