"""`clearhouse protected import FILE.csv`: protected entries (no owner) from a CSV file."""

import json
from pathlib import Path
from typing import Annotated

import typer

from clearhouse.settings import Settings

protected_app = typer.Typer(
    help="Protected entries: well-known characters, styles and public figures with no owner.",
    no_args_is_help=True,
)


@protected_app.command("import")
def import_entries(
    file: Annotated[Path, typer.Argument(help="CSV: kind,name,aliases (| separated),description")],
    by: Annotated[str, typer.Option(help="The email of the moderator or admin importing.")],
) -> None:
    """Create or update a protected entry per row, with a progress bar; print what changed as
    JSON. Bad rows are named by line on stderr (exit 1) and the others imported: fix them and
    import the file again, which leaves the rows already in unchanged."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlmodel import select

    from clearhouse.accounts.models import STAFF_ROLES, Account
    from clearhouse.cli_session import migrated_session
    from rights.matching.runtime import start_matching
    from rights.protected.importing import read_entries
    from rights.protected.service import import_entry

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as unreadable:
        typer.echo(f"{file}: cannot read it as UTF-8 text ({unreadable})", err=True)
        raise typer.Exit(code=2) from unreadable
    rows, errors = read_entries(text)
    settings = Settings()
    matching = start_matching(settings)
    console = Console(stderr=True)
    changes = {"created": 0, "updated": 0, "unchanged": 0}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        # The descriptions are embedded first: no model runs inside the write transaction.
        embedding = progress.add_task("embedding descriptions", total=len(rows))
        vectors = []
        for row in rows:
            vectors.append(matching.embed_texts([row.entry.description.strip()]))
            progress.advance(embedding)
        with migrated_session(settings) as session:
            staff = session.exec(select(Account).where(Account.email == by.lower())).first()
            if staff is None or staff.role not in STAFF_ROLES or staff.disabled_at is not None:
                progress.stop()
                typer.echo(f"{by} is no moderator or admin account here.", err=True)
                raise typer.Exit(code=2)
            importing = progress.add_task("importing", total=len(rows))
            for row, row_vectors in zip(rows, vectors, strict=True):
                changes[
                    import_entry(session, staff=staff, data=row.entry, vectors=row_vectors).change
                ] += 1
                progress.advance(importing)
            session.commit()
    for error in errors:
        typer.echo(str(error), err=True)
    typer.echo(json.dumps(changes | {"errors": len(errors)}))
    if errors:
        raise typer.Exit(code=1)
