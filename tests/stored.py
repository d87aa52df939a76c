"""What the database holds, as text to search: for tests that a secret or personal data is
stored nowhere."""

from sqlalchemy import Engine, MetaData, select


def every_stored_text(engine: Engine, *, except_tables: tuple[str, ...] = ()) -> str:
    """Every value of every row of every table (but ``except_tables``), as one string."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return "\n".join(
            repr(value)
            for table in metadata.sorted_tables
            if table.name not in except_tables
            for row in connection.execute(select(table))
            for value in row
        )
