"""Reading protected entries from a CSV file: ``kind,name,aliases,description``, aliases
separated by ``|``. Each bad row is reported with its line number; the good rows are imported
all the same, and importing the file again changes nothing (service.import_entry)."""

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError

from clearhouse.errors import ClearhouseError
from rights.protected.schemas import ProtectedEntryCreate
from rights.protected.service import name_key

COLUMNS = ("kind", "name", "aliases", "description")


@dataclass(frozen=True)
class ParsedRow:
    line: int
    entry: ProtectedEntryCreate


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def read_entries(text: str) -> tuple[list[ParsedRow], list[RowError]]:
    """The rows of a protected-entries CSV file (a header line first), and what is wrong with
    each row that cannot be imported."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(cell.strip().lower() for cell in header) != COLUMNS:
        got = ",".join(header) if header else "nothing"
        return [], [RowError(1, f"the header must be {','.join(COLUMNS)}; it is {got}")]
    rows, errors = [], []
    first_line_of: dict[tuple[str, str], int] = {}
    line = reader.line_num + 1
    for cells in reader:
        row_line, line = line, reader.line_num + 1  # a quoted field may span lines
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(COLUMNS):
            errors.append(
                RowError(
                    row_line, f"{len(cells)} fields; a row has {len(COLUMNS)}: {','.join(COLUMNS)}"
                )
            )
            continue
        kind, name, aliases, description = (cell.strip() for cell in cells)
        try:
            entry = ProtectedEntryCreate(
                kind=kind,
                name=name,
                aliases=[alias.strip() for alias in aliases.split("|") if alias.strip()],
                description=description,
            )
            key = (entry.kind.value, name_key(entry.name))
        except ValidationError as invalid:
            errors.append(RowError(row_line, _validation_message(invalid)))
            continue
        except ClearhouseError as refused:
            errors.append(RowError(row_line, refused.detail))
            continue
        if key in first_line_of:
            errors.append(
                RowError(row_line, f"{entry.kind.value} “{name}” repeats line {first_line_of[key]}")
            )
            continue
        first_line_of[key] = row_line
        rows.append(ParsedRow(row_line, entry))
    return rows, errors


def _validation_message(invalid: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'row'}: {error['msg']}"
        for error in invalid.errors()
    )
