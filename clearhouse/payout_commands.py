"""`clearhouse payouts run`: a period's payout run, as the admin's POST /v1/payouts/runs."""

import json
from typing import Annotated

import typer

from clearhouse.settings import Settings

payouts_app = typer.Typer(help="Payouts to rights holders (Stripe Connect).", no_args_is_help=True)


@payouts_app.command("run")
def run(
    period: Annotated[str, typer.Option(help="The month paid for, YYYY-MM.")],
) -> None:
    """Pay each holder whose payable is at or over the minimum, and send every payout left
    pending or failed; print the run as JSON. Run it again after any failure or crash: nobody
    is paid twice. With Stripe off it only reports what is due."""
    from clearhouse.cli_session import migrated_engine
    from clearhouse.errors import ClearhouseError
    from payouts.runs import run_payouts

    settings = Settings()
    engine = migrated_engine(settings)
    try:
        report = run_payouts(engine, settings=settings, period=period)
    except ClearhouseError as refused:
        typer.echo(refused.detail, err=True)
        raise typer.Exit(code=2) from refused
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "period": report.period,
                "stripe": report.stripe,
                "due": [
                    {
                        "holder_id": str(due.holder_id),
                        "currency": due.currency,
                        "amount_minor": due.amount_minor,
                        "onboarded": due.destination is not None,
                    }
                    for due in report.due
                ],
                **{
                    name: [str(payout) for payout in getattr(report, name)]
                    for name in ("made", "paid", "failed", "returned")
                },
            }
        )
    )
