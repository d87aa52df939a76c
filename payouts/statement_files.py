"""A statement as a file to download: CSV (one row per line, between an opening and a closing
row, amounts in minor units) and PDF (reportlab: a header naming the holder and the month,
the totals, a chart of the month's earnings by day, then every line, across as many pages as
it takes: payouts/statement_table.py; the holder's name and the memos in fonts that show them,
shaped and right to left where their script needs: payouts/statement_text.py)."""

import csv
import functools
import io
from datetime import datetime

from reportlab import rl_config
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from payouts.statement_table import line_table
from payouts.statement_text import Runs, first_line, show_runs, wrap_runs
from payouts.statements import LineKind, Statement, StatementLine

CSV_COLUMNS = (
    "row",
    "posted_at",
    "currency",
    "kind",
    "event",
    "asset_handle",
    "asset_id",
    "clearance_id",
    "generation_id",
    "entry_id",
    "gross_minor",
    "share_bps",
    "fee_minor",
    "amount_minor",
    "memo",
)

# ISO 4217 currencies whose minor unit is not a hundredth; every other has two decimals.
_DECIMALS = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


@functools.lru_cache(maxsize=4096)  # a statement's amounts repeat: 300,000 of them in 100,000 lines
def format_minor(amount_minor: int, currency: str) -> str:
    """``-12345, "USD"`` → ``USD -123.45``, exactly (integer arithmetic, no float)."""
    decimals = _DECIMALS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**decimals)
    text = f"{whole:,}" + (f".{part:0{decimals}d}" if decimals else "")
    return f"{currency} {sign}{text}"


def statement_csv(statement: Statement) -> str:
    """The statement's lines as CSV rows, after a row of the opening balance and before one of
    the closing balance: the ``amount_minor`` column adds up from one to the other."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    currency = statement.currency
    writer.writerow(
        ["opening", statement.period.starts_at.isoformat(), currency]
        + [""] * 10
        + [statement.opening_minor, f"Opening balance of {statement.period}"]
    )
    for line in statement.lines:
        writer.writerow(
            [
                "line",
                line.posted_at.isoformat(),
                currency,
                line.kind.value,
                line.event,
                *(_blank(value) for value in (line.asset_handle, line.asset_id)),
                *(_blank(value) for value in (line.clearance_id, line.generation_id)),
                line.entry_id,
                *(_blank(value) for value in (line.gross_minor, line.share_bps, line.fee_minor)),
                line.amount_minor,
                line.memo,
            ]
        )
    writer.writerow(
        ["closing", statement.period.ends_at.isoformat(), currency]
        + [""] * 10
        + [statement.closing_minor, f"Closing balance of {statement.period}"]
    )
    if statement.held_minor:
        writer.writerow(
            ["held", statement.period.ends_at.isoformat(), currency]
            + [""] * 10
            + [statement.held_minor, "Held for unverified claims (not in the balance)"]
        )
    return out.getvalue()


def _blank(value: object) -> object:
    return "" if value is None else value


# Page streams compressed, not ASCII85-encoded as well: every PDF reader reads binary streams,
# and reportlab's encoder, pure Python without its optional C accelerator, took 6 s of a
# statement of 100,000 lines (and made it a quarter bigger). reportlab is ours alone here.
rl_config.useA85 = 0

_STYLES = getSampleStyleSheet()
_SMALL = _STYLES["BodyText"].clone("small", fontSize=7, leading=8.5)


def statement_pdf(statement: Statement, *, holder_name: str, holder_email: str) -> bytes:
    """The statement as a PDF document (see the module)."""
    out = io.BytesIO()
    month = datetime(statement.period.year, statement.period.month, 1).strftime("%B %Y")
    title = f"Statement for {month} ({statement.period}, UTC), {statement.currency}"

    footer = first_line(
        f"Clearhouse · {statement.period} · {holder_name}",
        latin="Helvetica",
        size=7,
        width=A4[0] - 6 * cm,  # the margins, and room for the page's number
    )

    def on_page(canvas, document) -> None:
        canvas.saveState()
        text = canvas.beginText(document.leftMargin, 1 * cm)
        show_runs(text, footer, size=7, leading=8)
        canvas.drawText(text)
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(A4[0] - document.rightMargin, 1 * cm, f"Page {document.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=title,
        author="Clearhouse",
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.8 * cm,
    )
    story = [
        Paragraph(title, _STYLES["Title"]),
        _UserText(f"Rights holder: {holder_name} <{holder_email}>, account {statement.holder_id}"),
        Spacer(1, 0.3 * cm),
        _totals_table(statement),
        Spacer(1, 0.4 * cm),
        _earnings_chart(statement),
        Paragraph(
            "A reversal takes a use back (its clip was taken down, or its charge refunded). It "
            "takes from your balance what it holds, up to your share; a part already paid out "
            "to you is borne by the platform, as its memo says, and never asked back.",
            _SMALL,
        ),
        Spacer(1, 0.4 * cm),
    ]
    if statement.lines:
        story.append(line_table([_line_row(line, statement.currency) for line in statement.lines]))
    else:
        story.append(
            Paragraph("Nothing was posted to your balance this month.", _STYLES["BodyText"])
        )
    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


class _UserText(Flowable):
    """A text with the user's words in it (the holder's name), wrapped to the frame as the
    body text, each run in the font that shows it (a ``Paragraph`` neither shapes nor
    reorders right-to-left text without reportlab's optional rlbidi)."""

    FONT, SIZE, LEADING = "Helvetica", 10, 12

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.lines: list[Runs] = []
        self.spaceBefore = 6  # as the body text's style

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.lines = wrap_runs(self.text, latin=self.FONT, size=self.SIZE, width=available_width)
        self.width, self.height = available_width, len(self.lines) * self.LEADING
        return self.width, self.height

    def draw(self) -> None:
        text = self.canv.beginText()
        text.setFont(self.FONT, self.SIZE, self.LEADING)
        for n, runs in enumerate(self.lines):
            text.setTextOrigin(0, self.height - self.SIZE - n * self.LEADING)
            show_runs(text, runs, size=self.SIZE, leading=self.LEADING)
        self.canv.drawText(text)


CLOSING_ROW = 7  # of the totals table; the held amount, when any, comes after it


def _totals_table(statement: Statement) -> Table:
    totals, currency = statement.totals, statement.currency
    rows = [
        ("Opening balance", format_minor(statement.opening_minor, currency)),
        (f"Uses ({totals.uses}): licence fees", format_minor(totals.gross_minor, currency)),
        ("Platform fees kept of them", format_minor(-totals.fees_minor, currency)),
        ("Earned", format_minor(totals.earned_minor, currency)),
        ("Reversals", format_minor(-totals.reversed_minor, currency)),
        ("Payouts", format_minor(-totals.paid_out_minor, currency)),
        ("Other entries", format_minor(totals.other_minor, currency)),
        ("Closing balance", format_minor(statement.closing_minor, currency)),
    ]
    if statement.held_minor:
        rows.append(("Held for unverified claims", format_minor(statement.held_minor, currency)))
    table = Table(rows, colWidths=(8 * cm, 5 * cm), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
                ("FONT", (0, CLOSING_ROW), (-1, CLOSING_ROW), "Helvetica-Bold", 9),
                ("FONT", (0, 3), (-1, 3), "Helvetica-Bold", 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, 3), (-1, 3), 0.5, colors.grey),
                ("LINEABOVE", (0, CLOSING_ROW), (-1, CLOSING_ROW), 0.8, colors.black),
            ]
        )
    )
    return table


def _earnings_chart(statement: Statement) -> Drawing:
    """Bars of what each day of the month earned, in the currency's major unit (drawn only:
    the amounts in the tables are exact)."""
    scale = 10 ** _DECIMALS.get(statement.currency, 2)
    days = statement.earnings_by_day
    drawing = Drawing(17 * cm, 5.5 * cm)
    chart = VerticalBarChart()
    chart.x, chart.y = 1.5 * cm, 0.8 * cm
    chart.width, chart.height = 15 * cm, 3.8 * cm
    chart.data = [[day.earned_minor / scale for day in days]]
    chart.categoryAxis.categoryNames = [
        str(day.day.day) if day.day.day % 5 == 1 else "" for day in days
    ]
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#2f6f9f")
    drawing.add(chart)
    drawing.add(
        String(
            1.5 * cm,
            5.0 * cm,
            f"Earned each day of {statement.period} ({statement.currency})",
            fontName="Helvetica-Bold",
            fontSize=8,
        )
    )
    return drawing


def _line_row(line: StatementLine, currency: str) -> list[str]:
    """The line's cells, in the order of ``statement_table.HEADER``."""
    gross = "" if line.gross_minor is None else format_minor(line.gross_minor, currency)
    if line.kind == LineKind.use:
        described = f"@{line.asset_handle}"
        share = f"{line.share_bps / 100:g}%"
        fee = format_minor(line.fee_minor, currency)
    else:
        described = f"{line.event}: {line.memo}"
        share = fee = ""
    return [
        line.posted_at.isoformat(" ", "minutes")[:16],  # as strftime("%Y-%m-%d %H:%M"), faster
        line.kind.value,
        described,
        str(line.clearance_id)[:8] if line.clearance_id else "",
        gross,
        share,
        fee,
        format_minor(line.amount_minor, currency),
    ]
