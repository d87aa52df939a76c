"""The earnings chart that the dashboard and the statements page share: a month's earnings per
day as SVG bars, laid out here so the template (``chart.html``) only draws them.

Drawn on the server, with no script: the exact amounts are in each bar's title and in the
statement's tables; the bars only show the shape of the month.
"""

from dataclasses import dataclass

from payouts.statements import Statement

CHART_WIDTH, CHART_HEIGHT = 620, 160


@dataclass(frozen=True, slots=True)
class Bar:
    """One day of the earnings chart, laid out in the SVG's own units."""

    label: str
    earned_minor: int
    x: float
    height: float


def earnings_bars(statement: Statement) -> list[Bar]:
    """A bar per day of the statement's month, the highest day as tall as the chart (a day that
    took more back than it earned draws no bar)."""
    days = statement.earnings_by_day
    top = max((day.earned_minor for day in days), default=0)
    top = top if top > 0 else 1
    step = CHART_WIDTH / max(len(days), 1)
    return [
        Bar(
            label=day.day.strftime("%d %b"),
            earned_minor=day.earned_minor,
            x=round(index * step, 1),
            height=round(max(day.earned_minor, 0) / top * CHART_HEIGHT, 1),
        )
        for index, day in enumerate(days)
    ]


def earnings_chart(statement: Statement) -> dict:
    """What ``chart.html``'s ``earnings_chart`` macro takes for one statement."""
    return {
        "bars": earnings_bars(statement),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "currency": statement.currency,
        "period": str(statement.period),
    }
