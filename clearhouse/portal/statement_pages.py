"""The holder's statements: a month of their payable per currency (opening balance, every use,
reversals, payouts, fees, closing balance, totals, the earnings chart), and the same statement
as CSV or PDF.

The page and the downloads read the signed-in holder's statement through the API's own code
(payouts/statement_api.py): the month, the currency and an organisation the holder is a member
of (``organisation_id``, payouts/payees.py) are the only things a URL says, so nobody can ask
for anyone else's statement, whatever the URL.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from clearhouse.db import snapshot_session, utcnow
from clearhouse.deps import EngineDep
from clearhouse.portal.charts import earnings_chart
from clearhouse.portal.pages import PageRoute, month_name, render
from clearhouse.portal.sessions import PortalHolder
from payouts.payees import OrganisationQuery, payee_for, payee_of
from payouts.statement_api import csv_download, holder_statement, parse_period, pdf_download
from payouts.statements import Period, holder_statements, periods_with_postings
from rights.authority import Action

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Lines a page shows of one statement; the downloads hold every line.
LINES_SHOWN = 1_000

Currency = Annotated[str | None, Query(pattern="^[A-Z]{3}$")]


@router.get("/statements")
def statements_page(
    request: Request,
    holder: PortalHolder,
    engine: EngineDep,
    period: str | None = None,
    organisation_id: OrganisationQuery = None,
):
    this_month = Period.containing(utcnow())
    month = this_month if period is None else parse_period(period)
    with snapshot_session(engine) as session:
        payee = payee_for(
            session, account=holder, organisation_id=organisation_id, action=Action.view
        )
        statements = holder_statements(session, holder_id=payee.id, period=month)
        active = periods_with_postings(session, holder_id=payee.id, until=this_month)
    months = [this_month, *(active_month for active_month in active if active_month != this_month)]
    if month not in months:
        months.append(month)
    return render(
        request,
        "statements/statements.html",
        account=holder,
        organisation=None if payee.id == holder.id else payee,
        title=f"Statement for {month_name(month)}",
        period=month,
        this_month=this_month,
        months=months,
        statements=[
            {
                "statement": statement,
                "chart": earnings_chart(statement),
                "lines": statement.lines[:LINES_SHOWN],
            }
            for statement in statements
        ],
        lines_shown=LINES_SHOWN,
    )


@router.get("/statements/{period}.csv")
def statement_csv_file(
    holder: PortalHolder,
    engine: EngineDep,
    period: str,
    currency: Currency = None,
    organisation_id: OrganisationQuery = None,
):
    """The same file as ``GET /v1/statements/{period}.csv``, for the signed-in holder."""
    payee = payee_of(engine, account=holder, organisation_id=organisation_id)
    return csv_download(holder_statement(engine, holder=payee, period=period, currency=currency))


@router.get("/statements/{period}.pdf")
def statement_pdf_file(
    holder: PortalHolder,
    engine: EngineDep,
    period: str,
    currency: Currency = None,
    organisation_id: OrganisationQuery = None,
):
    """The same file as ``GET /v1/statements/{period}.pdf``, for the signed-in holder."""
    payee = payee_of(engine, account=holder, organisation_id=organisation_id)
    statement = holder_statement(engine, holder=payee, period=period, currency=currency)
    return pdf_download(statement, holder=payee)
