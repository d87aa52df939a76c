"""The `clearhouse` command: serve the API, migrate the database, verify the audit log, check
and adjust the ledger, run payouts, import protected entries, generate a clip for an account,
and verify the provenance of generated videos."""

import json
import os
import secrets
import shutil
from datetime import date
from typing import Annotated

import typer
from sqlmodel import Session, select

from clearhouse.cli_session import migrated_session
from clearhouse.generation_commands import generate, verify
from clearhouse.notice_commands import notices_app
from clearhouse.payout_commands import payouts_app
from clearhouse.protected_commands import protected_app
from clearhouse.settings import Settings

app = typer.Typer(help="Clearhouse: rights and consent for generative video.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts (for operators).", no_args_is_help=True)
likeness_app = typer.Typer(help="Face templates (biometric data).", no_args_is_help=True)
mail_app = typer.Typer(help="Email to account holders.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger (money).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(account_app, name="account")
app.add_typer(likeness_app, name="likeness")
app.add_typer(mail_app, name="mail")
app.add_typer(ledger_app, name="ledger")
app.add_typer(payouts_app, name="payouts")
app.add_typer(protected_app, name="protected")
app.add_typer(notices_app, name="notices")
app.command()(generate)
app.command()(verify)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes, each with its own app; about one per core."),
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log one line per request.")] = True,
    demo: Annotated[bool, typer.Option(help="Seed a sample holder with a character.")] = False,
) -> None:
    """Start the API (OpenAPI docs at /docs). Migrations are applied first."""
    settings = Settings()
    _keep_metrics_in_data_dir(settings)
    import uvicorn

    from clearhouse.app import create_app
    from clearhouse.logs import log_config

    if demo:
        with migrated_session(settings) as session:
            _seed_demo(session, settings=settings, base_url=f"http://{host}:{port}")
    logging = log_config(log_format=settings.log_format, access_log=access_log)
    # The app decides whose X-Forwarded-For to believe (CLEARHOUSE_TRUSTED_PROXIES), not uvicorn;
    # the app writes the access lines (clearhouse.access: with the route and the request id).
    served = {"host": host, "port": port, "access_log": False, "proxy_headers": False}
    if workers == 1:
        _serve_metrics_port(settings)
        uvicorn.run(create_app(settings), log_config=logging, **served)
        return
    if settings.redis_url is None:
        # Each process would count alone: N processes would allow N times every rate limit.
        raise typer.BadParameter(
            "several workers share their rate limits through Redis: set CLEARHOUSE_REDIS_URL "
            "(or run one worker)",
            param_hint="--workers",
        )
    _prepare_for_workers(settings)
    _serve_metrics_port(settings)
    # Workers are spawned and read their settings from the environment: migrations are done.
    os.environ["CLEARHOUSE_MIGRATE_ON_START"] = "false"
    uvicorn.run(
        "clearhouse.app:create_app", factory=True, workers=workers, log_config=logging, **served
    )


def _keep_metrics_in_data_dir(settings: Settings) -> None:
    """Point prometheus-client at a new, empty ``metrics/<this pid>/`` in the data dir, for
    this process and the workers it spawns, so that one scrape reports them all
    (clearhouse/metrics.py); remove those of `serve` processes that have ended. One folder per
    `serve`, so that two sharing a data dir count apart. Before prometheus_client is first
    imported (with the app): it picks where values live at import."""
    root = settings.data_dir / "metrics"
    root.mkdir(parents=True, exist_ok=True)
    for folder in root.iterdir():
        if not folder.name.isdigit() or not _running(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    directory = root / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)  # a pid used again
    directory.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _serve_metrics_port(settings: Settings) -> None:
    """The unauthenticated exposition on 127.0.0.1, when the operator set a port for it."""
    if settings.metrics_port is None:
        return
    from clearhouse.db import build_engine
    from clearhouse.metrics import serve_metrics_port

    serve_metrics_port(
        port=settings.metrics_port, engine=build_engine(settings.resolved_database_url)
    )


def _prepare_for_workers(settings: Settings) -> None:
    """Migrate, create the key files and record the keys once, before workers race to."""
    from clearhouse.db import build_engine
    from clearhouse.key_history import remember_keys
    from clearhouse.keys import KeyRing
    from clearhouse.migrations import upgrade_installation

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.migrate_on_start:
        upgrade_installation(settings)
    engine = build_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            remember_keys(session, KeyRing.load(settings))
            session.commit()
    finally:
        engine.dispose()


def _seed_demo(session: Session, *, settings: Settings, base_url: str) -> None:
    from clearhouse.accounts.models import Account, Role
    from clearhouse.accounts.schemas import AccountCreate
    from clearhouse.accounts.service import create_account
    from clearhouse.keys import KeyRing
    from policies.document import Audience, PolicyDocument, Price, Use
    from policies.service import set_policy
    from rights.matching.runtime import start_matching
    from rights.models import AssetKind
    from rights.schemas import AssetCreate
    from rights.service import create_asset, create_grant

    email = "demo-holder@clearhouse.example"
    if session.exec(select(Account).where(Account.email == email)).first():
        typer.echo(f"Demo holder {email} exists already; sign in with the password shown then.")
        return
    password = secrets.token_urlsafe(12)
    holder = create_account(
        session,
        data=AccountCreate(
            email=email,
            password=password,
            display_name="Demo Studio",
            date_of_birth=date(1980, 1, 1),
        ),
        settings=settings,
        role=Role.holder,
    )
    asset = create_asset(
        session,
        owner=holder,
        data=AssetCreate(
            kind=AssetKind.character,
            handle="captain_comet",
            name="Captain Comet",
            aliases=["The Comet"],
            description="A demo character.",
        ),
        text_vectors=None,  # embedded by the IP text check when it first loads the catalogue
        matching=start_matching(settings),
    )
    set_policy(
        session,
        asset=asset,
        actor=holder,
        document=PolicyDocument(
            audience=Audience.anyone,
            allowed_uses=[Use.personal, Use.parody],
            price=Price(currency="USD", per_use_minor=50, per_second_minor=5),
        ),
    )
    create_grant(
        session,
        actor=holder,
        asset=asset,
        policy_version=None,
        settings=settings,
        keys=KeyRing.load(settings),
    )
    session.commit()
    typer.echo(
        f"Demo holder: {email} / {password}\n"
        f"  character @captain_comet ({asset.id}) with a granted policy.\n"
        f"Portal:   {base_url}/ (sign in with the email and password above)\n"
        f"Sign in:  curl -s -X POST {base_url}/v1/auth/token "
        f"-d username={email} -d password={password}\n"
        f"Then:     curl -s {base_url}/v1/assets -H 'Authorization: Bearer <access_token>'"
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply Alembic migrations up to REVISION."""
    from clearhouse.migrations import upgrade_installation

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_installation(settings, revision)
    typer.echo(f"database at {revision}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and name the first broken entry if it is broken."""
    from audit.service import verify_chain
    from clearhouse.db import build_engine, snapshot_session

    engine = build_engine(Settings().resolved_database_url)
    with snapshot_session(engine) as session:
        report = verify_chain(session)
    engine.dispose()
    typer.echo(json.dumps(report.__dict__))
    if not report.ok:
        raise typer.Exit(code=1)


@account_app.command("create")
def account_create(
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="holder, creator, moderator or admin.")],
    display_name: Annotated[str, typer.Option()] = "Operator",
    date_of_birth: Annotated[str, typer.Option(help="YYYY-MM-DD")] = "1970-01-01",
) -> None:
    """Create an account with any role (staff roles cannot be chosen at sign-up).

    The operator vouches for the address: the account is verified at once."""
    from clearhouse.accounts.models import Role
    from clearhouse.accounts.schemas import AccountCreate
    from clearhouse.accounts.service import create_account

    settings = Settings()
    password = secrets.token_urlsafe(16)
    with migrated_session(settings) as session:
        create_account(
            session,
            data=AccountCreate(
                email=email,
                password=password,
                display_name=display_name,
                date_of_birth=date.fromisoformat(date_of_birth),
            ),
            settings=settings,
            role=Role(role),
        )
        session.commit()
    typer.echo(f"{role} {email} created; password: {password}")


@likeness_app.command("retention")
def likeness_retention() -> None:
    """Destroy the templates of likenesses idle past CLEARHOUSE_TEMPLATE_RETENTION_DAYS.

    Run it daily (cron, a systemd timer). Running API processes stop reporting the destroyed
    likenesses at once: every scan match is checked against the vault.
    """
    from clearhouse.db import utcnow
    from likeness.runtime import configured_key_store
    from likeness.tasks import destroy_idle_templates, destroy_orphan_keys

    settings = Settings()
    key_store = configured_key_store(settings)
    with migrated_session(settings) as session:
        destroyed = destroy_idle_templates(
            session,
            now=utcnow(),
            retention_days=settings.template_retention_days,
            key_store=key_store,
        )
        session.commit()
        orphans = destroy_orphan_keys(session, key_store=key_store)
    typer.echo(
        json.dumps(
            {
                "destroyed": [str(likeness_id) for likeness_id in destroyed],
                "orphan_keys_destroyed": len(orphans),
            }
        )
    )


@mail_app.command("outbox")
def mail_outbox(
    to: Annotated[str | None, typer.Option(help="Only the messages to this address.")] = None,
) -> None:
    """Print the mail waiting in the outbox (the embedded default, with no SMTP server), one
    JSON object a line, and mark it delivered: hand each message on to its recipient."""
    from clearhouse.mail.outbox import take_outbox

    with migrated_session(Settings()) as session:
        messages = take_outbox(session, recipient=to)
        session.commit()
    for message in messages:
        typer.echo(
            json.dumps(
                {
                    "to": message.recipient,
                    "subject": message.subject,
                    "created_at": message.created_at.isoformat(),
                    "body": message.body,
                }
            )
        )


@ledger_app.command("check")
def ledger_check() -> None:
    """Check that every cached balance equals the sum of its account's legs and that every
    entry balances; print the report as JSON, exit 1 if anything is off."""
    import dataclasses

    from clearhouse.db import build_engine, snapshot_session
    from payouts.balances import check_ledger

    engine = build_engine(Settings().resolved_database_url)
    with snapshot_session(engine) as session:
        report = check_ledger(session)
    engine.dispose()
    typer.echo(json.dumps({"ok": report.ok, **dataclasses.asdict(report)}, default=str))
    if not report.ok:
        raise typer.Exit(code=1)


@ledger_app.command("adjust")
def ledger_adjust(
    email: Annotated[str, typer.Option(help="The creator whose wallet is adjusted.")],
    amount_minor: Annotated[
        int, typer.Option(help="Minor units: positive credits the wallet, negative debits it.")
    ],
    reason: Annotated[str, typer.Option(help="Why, for the creator and the auditors.")],
    key: Annotated[str, typer.Option(help="Your key for this adjustment: run twice, posted once.")],
    currency: Annotated[str, typer.Option(help="ISO 4217.")] = "USD",
) -> None:
    """Adjust a creator's wallet against the platform's adjustments account (never below
    zero); print the entry as JSON."""
    from clearhouse.accounts.models import Account
    from clearhouse.db import utcnow
    from clearhouse.errors import ClearhouseError
    from payouts.accounts import wallet
    from payouts.adjustments import adjust_wallet
    from payouts.balances import balance_of

    with migrated_session(Settings()) as session:
        creator = session.exec(
            select(Account).where(Account.email == email.strip().lower())
        ).first()
        if creator is None:
            typer.echo(f"No account has the email {email}.", err=True)
            raise typer.Exit(code=2)
        try:
            entry = adjust_wallet(
                session,
                creator_id=creator.id,
                amount_minor=amount_minor,
                currency=currency.upper(),
                operator_key=key,
                reason=reason,
                now=utcnow(),
            )
        except (ClearhouseError, ValueError) as refused:
            typer.echo(getattr(refused, "detail", str(refused)), err=True)
            raise typer.Exit(code=1) from refused
        session.commit()
        balance = balance_of(session, wallet(creator.id, currency.upper()))
    typer.echo(
        json.dumps(
            {
                "entry_id": str(entry.id),
                "key": entry.key,
                "replayed": entry.replayed,
                "wallet_minor": balance,
            }
        )
    )


def main() -> None:
    app()
