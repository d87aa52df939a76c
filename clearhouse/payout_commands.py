"""`clearhouse payouts run`: a period's payout run, as the admin's POST /v1/payouts/runs;
`clearhouse payouts retry-reversals`: the takedown reversals left to retry, posted now."""

import json
from typing import Annotated

import typer

from clearhouse.settings import Settings

payouts_app = typer.Typer(help="Payouts to rights holders (Stripe Connect).", no_args_is_help=True)


@payouts_app.command("run")
def run(
    period: Annotated[
        str, typer.Option(help="The month paid for, YYYY-MM (UTC), once it has ended.")
    ],
) -> None:
    """Pay each holder what they earned by the month's end and were not paid, when at or
    over the minimum, and send every payout left pending or failed; print the run as JSON. Run
    it again after any failure or crash: nobody is paid twice. With Stripe off it only reports
    what is due. A month is run once it has ended (UTC): this month or a later one exits 1, a
    period not written YYYY-MM exits 2."""
    from clearhouse.cli_session import migrated_engine
    from clearhouse.errors import ClearhouseError
    from payouts.errors import PayoutPeriodNotEnded
    from payouts.payout_api import DuePublic
    from payouts.runs import run_payouts

    settings = Settings()
    engine = migrated_engine(settings)
    try:
        report = run_payouts(engine, settings=settings, period=period)
    except ClearhouseError as refused:
        typer.echo(refused.detail, err=True)
        raise typer.Exit(code=1 if isinstance(refused, PayoutPeriodNotEnded) else 2) from refused
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "period": report.period,
                "stripe": report.stripe,
                "due": [DuePublic.of(due).model_dump(mode="json") for due in report.due],
                "reversals_posted": [str(g) for g in report.reversals.posted],
                "reversals_failed": [str(g) for g in report.reversals.failed],
                **{
                    name: [str(payout) for payout in getattr(report, name)]
                    for name in ("made", "paid", "failed", "returned")
                },
            }
        )
    )


@payouts_app.command("retry-reversals")
def retry_reversals() -> None:
    """Post the takedown reversals that could not be posted when their clips were taken down
    (each payout run does this first too); print what was posted and what failed again as
    JSON. Exits 1 if any failed again. Running it twice posts nothing twice."""
    from clearhouse.cli_session import migrated_engine
    from clearhouse.db import utcnow
    from payouts.takedowns import retry_takedown_reversals

    engine = migrated_engine(Settings())
    try:
        retried = retry_takedown_reversals(engine, now=utcnow())
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "posted": [str(g) for g in retried.posted],
                "failed": [str(g) for g in retried.failed],
            }
        )
    )
    if retried.failed:
        raise typer.Exit(code=1)
