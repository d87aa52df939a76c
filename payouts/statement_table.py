"""The table of a statement PDF's lines, drawn straight on reportlab's canvas, page after page.

platypus's ``Table`` lays out every cell as an object and splits a table that runs over a page
by copying the rows left: 100,000 lines took 32 s. Here each row is measured once (a use's row
is one line of text; another line's memo wraps in its column), the rows that fit on a page are
found by bisecting the rows' running heights, and a page's rows go to the canvas as one block
of PDF text operators (``Canvas.addLiteral``), a few microseconds a row. That block holds the
rows whose text is ASCII (a use's: dates, handles, ids, amounts), whose bytes are the same in
the font's encoding; a row with any other character is drawn through reportlab's text object,
which encodes it, each run of it in the font that holds it, shaped and in the order it is
drawn where the script needs it (payouts/statement_text.py).
"""

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable

from payouts.statement_text import Runs, font_runs, runs_width, show_runs, wrap_runs

FONT, BOLD, SIZE, LEADING = "Helvetica", "Helvetica-Bold", 7, 8.5
PADDING_X, PADDING_Y = 6, 1  # each side of a cell, as platypus tables pad them
HEADER = (
    "Date (UTC)",
    "Kind",
    "Asset / memo",
    "Clearance",
    "Licence fee",
    "Share",
    "Platform fee",
    "Amount",
)
WIDTHS = (2.4 * cm, 1.5 * cm, 5.2 * cm, 1.6 * cm, 2.0 * cm, 1.2 * cm, 2.0 * cm, 2.1 * cm)
FIRST_RIGHT = 4  # the columns from this one on (the amounts) are aligned right
WRAPPED = 2  # the column whose text wraps (a memo)
# A PDF string's escapes ("(", ")" and "\\" escaped; control characters as octal). reportlab's
# own escapePDF is pure Python unless its optional C accelerator is installed: 5 s of 100,000
# lines.
_ESCAPES = str.maketrans(
    {"(": "\\(", ")": "\\)", "\\": "\\\\"} | {chr(n): f"\\{n:03o}" for n in (*range(32), 127)}
)


@dataclass(frozen=True, slots=True)
class _Rows:
    """The rows' running heights (``tops[n]``: how far below the first row's top the row ``n``
    starts), and how each is drawn: a row of ASCII text on one line by its ``operators`` (its
    cells' text operators, from the start of its line); any other by its ``lines`` (each
    cell's lines of text, a memo's wrapped, each line as runs of one font)."""

    operators: list[str | None]
    lines: list[tuple[tuple[Runs, ...], ...] | None]
    tops: list[float]


_LEFTS = [PADDING_X + sum(WIDTHS[:n]) for n in range(len(WIDTHS))]
_RIGHTS = [sum(WIDTHS[: n + 1]) - PADDING_X for n in range(len(WIDTHS))]


# The widest character of the font, in ems ("@"): a text of fewer characters than its column
# holds of these fits without being measured.
_WIDEST_EM = 1.015


def line_table(rows: Sequence[Sequence[str]]) -> "LineTable":
    """The table of ``rows`` (one string per column of ``HEADER``), to add to a story."""
    memo_width = WIDTHS[WRAPPED] - 2 * PADDING_X
    surely_fits = int(memo_width / (SIZE * _WIDEST_EM))
    # A cell's text operators: moved to its place from the start of the row's line, shown,
    # moved back. An amount is measured and written once per column.
    placed = [(f"{x:.2f} 0 Td (", f") Tj {-x:.2f} 0 Td") for x in _LEFTS[:FIRST_RIGHT]]
    amounts: dict[tuple[int, str], str] = {}
    operators, lines, tops, top = [], [], [0.0], 0.0
    for row in rows:
        described = row[WRAPPED]
        if "".join(row).isascii() and (
            len(described) <= surely_fits or stringWidth(described, FONT, SIZE) <= memo_width
        ):
            cells = [
                f"{before}{cell.translate(_ESCAPES)}{after}"
                for (before, after), cell in zip(placed, row[:FIRST_RIGHT], strict=True)
                if cell
            ]
            cells.extend(
                amounts.get((column, row[column])) or _amount(amounts, column, row[column])
                for column in range(FIRST_RIGHT, len(row))
                if row[column]
            )
            operators.append(" ".join(cells))
            lines.append(None)
            height = LEADING
        else:
            wrapped = tuple(wrap_runs(described, latin=FONT, size=SIZE, width=memo_width))
            operators.append(None)
            lines.append(
                tuple(
                    wrapped if n == WRAPPED else (font_runs(cell, latin=FONT),)
                    for n, cell in enumerate(row)
                )
            )
            height = len(wrapped) * LEADING
        top += height + 2 * PADDING_Y
        tops.append(top)
    return LineTable(_Rows(operators, lines, tops), 0, len(rows))


def _amount(amounts: dict[tuple[int, str], str], column: int, cell: str) -> str:
    """The operators of an amount aligned right in its column (remembered in ``amounts``)."""
    x = _RIGHTS[column] - stringWidth(cell, FONT, SIZE)
    operator = amounts[(column, cell)] = (
        f"{x:.2f} 0 Td ({cell.translate(_ESCAPES)}) Tj {-x:.2f} 0 Td"
    )
    return operator


class LineTable(Flowable):
    """Rows ``start`` to ``end`` of the table, under its header; split page by page."""

    _HEADER_HEIGHT = LEADING + 2 * PADDING_Y

    def __init__(self, rows: _Rows, start: int, end: int) -> None:
        super().__init__()
        self.rows, self.start, self.end = rows, start, end
        self.width = sum(WIDTHS)

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        tops = self.rows.tops
        self.height = self._HEADER_HEIGHT + tops[self.end] - tops[self.start]
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list["LineTable"]:
        tops = self.rows.tops
        limit = tops[self.start] + available_height - self._HEADER_HEIGHT
        fits = bisect.bisect_right(tops, limit, self.start, self.end + 1) - 1
        if fits <= self.start:
            return []  # not even one row: the next page
        return [LineTable(self.rows, self.start, fits), LineTable(self.rows, fits, self.end)]

    def draw(self) -> None:
        canvas = self.canv
        top = self.height
        baseline = top - PADDING_Y - SIZE
        canvas.setFont(BOLD, SIZE)
        for n, title in enumerate(HEADER):
            if n < FIRST_RIGHT:
                canvas.drawString(_LEFTS[n], baseline, title)
            else:
                canvas.drawRightString(_RIGHTS[n], baseline, title)
        canvas.setStrokeColor(colors.grey)
        canvas.setLineWidth(0.5)
        canvas.line(0, top - self._HEADER_HEIGHT, self.width, top - self._HEADER_HEIGHT)
        self._draw_rows(top - self._HEADER_HEIGHT)

    def _draw_rows(self, top: float) -> None:
        """The rows of ASCII text as one block of text operators, the others through a text
        object."""
        canvas, rows = self.canv, self.rows
        text = canvas.beginText()
        text.setFont(FONT, SIZE, LEADING)
        # "BT /F1 7 Tf 8.5 TL ET": the font's name in this document, as the text object set it.
        block = [text.getCode().removesuffix(" ET")]
        text = canvas.beginText()
        text.setFont(FONT, SIZE, LEADING)
        origin = top + rows.tops[self.start] - PADDING_Y - SIZE
        for n in range(self.start, self.end):
            y = origin - rows.tops[n]
            operators = rows.operators[n]
            if operators is not None:
                block.append(f"1 0 0 1 0 {y:.2f} Tm {operators}")
                continue
            for column, cell_lines in enumerate(rows.lines[n]):
                for offset, runs in enumerate(cell_lines):
                    x = _LEFTS[column]
                    if column >= FIRST_RIGHT:
                        x = _RIGHTS[column] - runs_width(runs, SIZE)
                    text.setTextOrigin(x, y - offset * LEADING)
                    show_runs(text, runs, size=SIZE, leading=LEADING)
        block.append("ET")
        canvas.addLiteral(" ".join(block))
        canvas.drawText(text)
