"""`clearhouse notices send`: one round of the notice worker, for deployments that run it from
cron instead of in the API process (``CLEARHOUSE_NOTICE_WORKER=false``)."""

import json

import typer

from clearhouse.settings import Settings

notices_app = typer.Typer(help="Notices: webhooks and email digests.", no_args_is_help=True)


@notices_app.command("send")
def send() -> None:
    """Record the deadlines that passed (offers that lapsed, disputes' answers due or
    overdue) and tell whom they concern, send the webhook deliveries that are due and queue the
    email digests that are due (and send them, with SMTP configured); print what went as
    JSON."""
    from clearhouse.cli_session import migrated_engine
    from clearhouse.deadlines import sweep_deadlines
    from clearhouse.mail.outbox import Mailer
    from clearhouse.mail.outbox import deliver_due as send_mail
    from notifications.tasks import send_notices

    settings = Settings()
    engine = migrated_engine(settings)
    mailer = Mailer(engine=engine, settings=settings)
    try:
        swept = sweep_deadlines(engine, settings=settings)
        delivered, digests = send_notices(engine, mailer=mailer, settings=settings)
        mailed = send_mail(engine, settings=settings) if settings.smtp_host else 0
    finally:
        mailer.close()
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                **swept.counts(),
                "webhooks_delivered": delivered,
                "digests_queued": digests,
                "mailed": mailed,
            }
        )
    )
