"""Routes of statements: a rights holder reads what their payable did in a UTC month, as JSON,
CSV or PDF. Only their own, or an organisation's they are a member of: no route reads anyone
else's payable."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy import Engine

from clearhouse.accounts.models import Account
from clearhouse.db import snapshot_session, utcnow
from clearhouse.deps import CurrentAccount, EngineDep
from clearhouse.errors import NotFound, raises
from payouts.errors import StatementCurrencyNeeded, StatementPeriodInvalid
from payouts.payees import OrganisationQuery, payee_for, payee_of
from payouts.statement_files import statement_csv, statement_pdf
from payouts.statement_schemas import StatementsPublic, statements_json
from payouts.statements import (
    Period,
    Statement,
    holder_statements,
    payable_currencies,
    statement_of,
)
from rights.authority import Action

router = APIRouter(prefix="/v1", tags=["statements"])

PERIOD_HELP = "The UTC month, YYYY-MM (e.g. 2026-11): this one or an earlier one."
CurrencyQuery = Annotated[
    str | None,
    Query(
        pattern="^[A-Z]{3}$",
        description="ISO 4217 code; needed only when you have earned in more than one.",
    ),
]


def parse_period(text: str) -> Period:
    """The month a caller asked for: YYYY-MM, this one or an earlier one."""
    try:
        period = Period.parse(text)
    except ValueError as exc:
        raise StatementPeriodInvalid(f"{exc}.") from None
    if period.starts_at > utcnow():
        raise StatementPeriodInvalid(
            f"{period} has not begun: ask for this month or an earlier one."
        )
    return period


@router.get("/statements", response_model=StatementsPublic)
@raises(StatementPeriodInvalid, NotFound)
def list_statements(
    holder: CurrentAccount,
    engine: EngineDep,
    period: Annotated[str, Query(description=PERIOD_HELP)],
    organisation_id: OrganisationQuery = None,
):
    """Your statements for one month, one per currency you have earned in: the balance you
    were owed as it began and as it ended, every use of your assets (the licence fee, your
    share, what you earned and what the platform kept), reversals, payouts, and totals. An
    organisation's assets earn for the organisation: its members read them with
    `organisation_id`."""
    month = parse_period(period)
    with snapshot_session(engine) as session:
        payee = payee_for(
            session, account=holder, organisation_id=organisation_id, action=Action.view
        )
        statements = holder_statements(session, holder_id=payee.id, period=month)
    return Response(statements_json(month, statements), media_type="application/json")


def holder_statement(
    engine: Engine, *, holder: Account, period: str, currency: str | None
) -> Statement:
    """The holder's statement for the month ``period`` in ``currency`` (which may be left out
    by a holder who has earned in one currency only), read in one snapshot. ``holder``: the
    caller, or an organisation the caller reads for (payouts/payees.py). The portal's
    downloads call it too, with the signed-in holder."""
    month = parse_period(period)
    with snapshot_session(engine) as session:
        if currency is None:
            currencies = payable_currencies(session, holder_id=holder.id)
            if len(currencies) != 1:
                raise StatementCurrencyNeeded(
                    "Add ?currency= to say which statement: you have earned in "
                    + (", ".join(currencies) if currencies else "no currency yet")
                    + "."
                )
            currency = currencies[0]
        return statement_of(session, holder_id=holder.id, period=month, currency=currency)


_PERIOD_PATH = Annotated[str, Path(description=PERIOD_HELP)]


@router.get(
    "/statements/{period}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
@raises(StatementPeriodInvalid, StatementCurrencyNeeded, NotFound)
def download_statement_csv(
    holder: CurrentAccount,
    engine: EngineDep,
    period: _PERIOD_PATH,
    currency: CurrencyQuery = None,
    organisation_id: OrganisationQuery = None,
):
    """Your statement (or, with `organisation_id`, the organisation's) as CSV: a row per line,
    between a row of the opening balance and one of the closing balance; amounts in minor
    units, so `amount_minor` adds up from one to the other."""
    payee = payee_of(engine, account=holder, organisation_id=organisation_id)
    return csv_download(holder_statement(engine, holder=payee, period=period, currency=currency))


@router.get(
    "/statements/{period}.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
@raises(StatementPeriodInvalid, StatementCurrencyNeeded, NotFound)
def download_statement_pdf(
    holder: CurrentAccount,
    engine: EngineDep,
    period: _PERIOD_PATH,
    currency: CurrencyQuery = None,
    organisation_id: OrganisationQuery = None,
):
    """Your statement (or the organisation's) as a PDF: the totals, a chart of what was earned
    each day, every line."""
    payee = payee_of(engine, account=holder, organisation_id=organisation_id)
    statement = holder_statement(engine, holder=payee, period=period, currency=currency)
    return pdf_download(statement, holder=payee)


def csv_download(statement: Statement) -> Response:
    """The statement as a CSV file to save."""
    return Response(
        statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(statement, "csv")},
    )


def pdf_download(statement: Statement, *, holder: Account) -> Response:
    """The statement as a PDF file to save, naming the holder it belongs to."""
    document = statement_pdf(statement, holder_name=holder.display_name, holder_email=holder.email)
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": _attachment(statement, "pdf")},
    )


def _attachment(statement: Statement, extension: str) -> str:
    return (
        f'attachment; filename="clearhouse-statement-{statement.period}-'
        f'{statement.currency}.{extension}"'
    )
