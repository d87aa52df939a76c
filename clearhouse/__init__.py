"""Clearhouse composition: settings, database, accounts and auth, the app factory and the CLI.

The domain lives in the sibling packages (``rights``, ``policies``, ``likeness``, ...);
this package only wires them together.
"""

from sqlmodel import SQLModel

# Every constraint gets a predictable name, so Alembic migrations can refer to it.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
