"""The `clearhouse` command: serve the API, migrate the database, verify the audit log, check
and adjust the ledger, generate a clip for an account, and verify the provenance of generated
videos."""

import json
import os
import secrets
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlmodel import Session, select

from clearhouse.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from generator.provenance import Provenance
    from generator.runtime import GeneratorRuntime

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


def _session(settings: Settings) -> Session:
    from clearhouse.db import build_engine, writer
    from clearhouse.migrations import upgrade_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(
        settings.resolved_database_url, likeness_key_store=settings.likeness_key_store_path
    )
    return Session(writer(build_engine(settings.resolved_database_url)), expire_on_commit=False)


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
    import uvicorn

    from clearhouse.app import create_app

    settings = Settings()
    if demo:
        with _session(settings) as session:
            _seed_demo(session, settings=settings, base_url=f"http://{host}:{port}")
    # The app decides whose X-Forwarded-For to believe (CLEARHOUSE_TRUSTED_PROXIES), not uvicorn.
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            access_log=access_log,
            proxy_headers=False,
        )
        return
    _prepare_for_workers(settings)
    # Workers are spawned and read their settings from the environment: migrations are done.
    os.environ["CLEARHOUSE_MIGRATE_ON_START"] = "false"
    uvicorn.run(
        "clearhouse.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        proxy_headers=False,
    )


def _prepare_for_workers(settings: Settings) -> None:
    """Migrate, create the key files and record the keys once, before workers race to."""
    from clearhouse.db import build_engine
    from clearhouse.key_history import remember_keys
    from clearhouse.keys import KeyRing
    from clearhouse.migrations import upgrade_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.migrate_on_start:
        upgrade_database(
            settings.resolved_database_url, likeness_key_store=settings.likeness_key_store_path
        )
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
        owner=holder,
        asset=asset,
        policy_version=None,
        settings=settings,
        keys=KeyRing.load(settings),
    )
    session.commit()
    typer.echo(
        f"Demo holder: {email} / {password}\n"
        f"  character @captain_comet ({asset.id}) with a granted policy.\n"
        f"Sign in:  curl -s -X POST {base_url}/v1/auth/token "
        f"-d username={email} -d password={password}\n"
        f"Then:     curl -s {base_url}/v1/assets -H 'Authorization: Bearer <access_token>'"
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply Alembic migrations up to REVISION."""
    from clearhouse.migrations import upgrade_database

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(
        settings.resolved_database_url,
        revision,
        likeness_key_store=settings.likeness_key_store_path,
    )
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
    with _session(settings) as session:
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
    with _session(settings) as session:
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

    with _session(Settings()) as session:
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

    with _session(Settings()) as session:
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


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="What the clip shows.")],
    account: Annotated[
        str, typer.Option("--as", help="Email of the account that asks (and pays) for it.")
    ],
    cameo: Annotated[
        list[str] | None,
        typer.Option(help="A registered asset the clip uses, as @handle (repeat for more)."),
    ] = None,
    use: Annotated[str, typer.Option(help="Declared use: personal, commercial, ...")] = "personal",
    duration_ms: Annotated[int, typer.Option(help="Length of the clip.")] = 2000,
    width: Annotated[int, typer.Option(help="A multiple of 8.")] = 256,
    height: Annotated[int, typer.Option(help="A multiple of 8.")] = 256,
    steps: Annotated[int, typer.Option(help="Denoising steps of each frame.")] = 20,
    fps: Annotated[int, typer.Option(help="Frames a second.")] = 8,
    seed: Annotated[int, typer.Option(help="The same seed makes the same clip.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the clip (default: clearhouse-ID.mp4).")
    ] = None,
) -> None:
    """Clear a generation for an account, run it here with a progress bar, and write the
    released clip with its C2PA manifest. Exit 1 unless it is released (the reasons are
    printed). The model is the settings' (CLEARHOUSE_GENERATOR_MODEL_DIR), else the tiny
    untrained one, whose frames are noise."""
    import pydantic

    from clearhouse.accounts.models import Account
    from clearhouse.db import build_engine, utcnow
    from generator.schemas import GenerationCreate
    from generator.service import request_generation

    settings = Settings()
    try:
        body = GenerationCreate(
            prompt=prompt,
            cameos=cameo or [],
            declared_use=use,
            duration_ms=duration_ms,
            width=width,
            height=height,
            steps=steps,
            fps=fps,
            seed=seed,
        )
    except pydantic.ValidationError as exc:
        typer.echo(f"cannot generate this: {exc}", err=True)
        raise typer.Exit(code=2) from None
    with _session(settings) as session:
        requester = session.exec(select(Account).where(Account.email == account.lower())).first()
    if requester is None or requester.deleted_at or requester.disabled_at:
        typer.echo(f"no active account has the email {account}", err=True)
        raise typer.Exit(code=1)
    if requester.email_verified_at is None:
        typer.echo(f"{account} has not verified its email address: it cannot clear", err=True)
        raise typer.Exit(code=1)
    engine = build_engine(settings.resolved_database_url)
    runtime = _generator_runtime(settings, engine)
    try:
        from rights.matching.runtime import start_matching

        requested = request_generation(
            engine,
            requester=requester,
            body=body,
            matching=start_matching(settings),
            likeness=runtime.likeness,
            catalogue=runtime.catalogue,
            settings=settings,
            keys=runtime.keys,
            now=utcnow(),
        )
        clearance = requested.clearance.clearance
        typer.echo(f"clearance {clearance.id}: {clearance.outcome.value}")
        for reason in clearance.reasons:
            typer.echo(f"  {reason}")
        if requested.job is None:
            raise typer.Exit(code=1)
        job = _follow(runtime, job_id=requested.job.id)
    finally:
        runtime.likeness.close()
        engine.dispose()
    typer.echo(f"generation {job.id}: {job.state.value}")
    for reason in job.reasons:
        typer.echo(f"  {reason}")
    if job.video_name is None:
        raise typer.Exit(code=1)
    destination = out or Path(f"clearhouse-{job.id}.mp4")
    destination.write_bytes((settings.generations_dir / job.video_name).read_bytes())
    typer.echo(f"clip written to {destination} (clearhouse verify {destination})")


def _generator_runtime(settings: Settings, engine: "Engine") -> "GeneratorRuntime":
    from clearhouse.key_history import remember_keys
    from clearhouse.keys import KeyRing
    from generator.runtime import GeneratorRuntime
    from likeness.runtime import LikenessRuntime
    from rights.references.catalogue import ReferenceCatalogue

    with Session(engine) as session:
        keys = remember_keys(session, KeyRing.load(settings))
        session.commit()
    return GeneratorRuntime(
        engine=engine,
        settings=settings,
        keys=keys,
        likeness=LikenessRuntime.start(settings=settings, engine=engine),
        catalogue=ReferenceCatalogue.start(engine=engine),
    )


def _follow(runtime: "GeneratorRuntime", *, job_id):
    """Run the job here (unless a server's worker took it first) and show its progress until
    it ends; the job as it ended. Interrupted, it goes back to the queue."""
    import threading
    import time

    from generator.models import FINAL_STATES, GenerationJob, JobState
    from generator.tasks import run_job

    def read():
        with Session(runtime.engine) as session:
            return session.get(GenerationJob, job_id)

    def run_until_ended() -> None:
        # Again after an attempt that ended in an error, until its attempts are used up.
        while not runtime.stopping.is_set() and (state := read().state) not in FINAL_STATES:
            if state == JobState.queued:
                run_job(job_id, runtime=runtime)
            else:  # another process's worker runs it
                runtime.stopping.wait(0.5)

    running = threading.Thread(target=run_until_ended)
    running.start()
    shown = 0
    bar = None
    try:
        while True:
            job = read()
            if bar is None and job.steps_total:
                bar = typer.progressbar(length=job.steps_total, label="generating")
                bar.__enter__()
            if bar is not None and job.steps_done > shown:
                bar.update(job.steps_done - shown)
                shown = job.steps_done
            if job.state in FINAL_STATES:
                return job
            time.sleep(0.2)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        runtime.stopping.set()
        running.join()


@app.command()
def verify(
    video: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A video (or image) file.")
    ],
) -> None:
    """Print a video's C2PA manifest: who generated it and when, the clearance, the licences,
    the AI disclosure, and whether it is intact and signed by a trusted signer (the trust
    anchors of CLEARHOUSE_PROVENANCE_TRUST_ANCHORS, else the platform's own CA). Exit 1
    unless it is both."""
    import c2pa

    from generator.provenance import read_provenance
    from generator.signing_identity import configured_trust_anchors

    try:
        provenance = read_provenance(video, trust_anchors_pem=configured_trust_anchors(Settings()))
    except c2pa.C2paError as exc:
        typer.echo(f"{video}: C2PA cannot read it ({exc})", err=True)
        raise typer.Exit(code=1) from None
    if provenance is None:
        typer.echo(f"{video}: no C2PA manifest")
        raise typer.Exit(code=1)
    typer.echo(f"{video}: C2PA manifest")
    for label, text in _provenance_lines(provenance):
        typer.echo(f"  {label:<14} {text}")
    if not (provenance.intact and provenance.trusted):
        raise typer.Exit(code=1)


def _provenance_lines(provenance: "Provenance") -> list[tuple[str, str]]:
    from generator.provenance import AI_GENERATED, UNTRUSTED

    signer = provenance.signed_by or "an unnamed signer"
    if not provenance.intact:
        broken = "; ".join(
            f"{failure.code} ({failure.explanation})"
            for failure in provenance.failures
            if failure.code != UNTRUSTED
        )
        signature = f"INVALID, changed after signing or forged: {broken}"
    elif provenance.trusted:
        signature = f"intact, signed by {signer}, a trusted signer"
    else:
        signature = f"intact, signed by {signer}, NOT trusted: not among the trust anchors"
    created = provenance.created or {}
    model = created.get("softwareAgent", {}).get("name", "an unnamed model")
    lines = [
        ("signature", signature),
        ("generator", provenance.claim_generator or "unnamed"),
        ("created", f"{created.get('when', 'at an unstated time')} by {model}"),
        (
            "AI disclosure",
            f"generated by a trained model ({AI_GENERATED})"
            if provenance.ai_generated
            else "none: the manifest does not say a trained model made it",
        ),
    ]
    clearance = provenance.clearance
    if clearance is None:
        return [*lines, ("clearance", "none: no Clearhouse clearance is named")]
    lines += [
        ("generation", str(clearance.get("generation_id"))),
        ("status", str(clearance.get("status_url"))),
        ("clearance", str(clearance.get("clearance_id"))),
    ]
    licences = clearance.get("licences", [])
    if not licences:
        return [*lines, ("licences", "none: no registered asset is used")]
    for licence in licences:
        price = licence.get("price", {})
        lines.append(
            (
                "licence",
                f"asset {licence.get('asset_id')}: grant {licence.get('grant_id')}, policy "
                f"version {licence.get('policy_version')}, {price.get('amount_minor')} "
                f"{price.get('currency')} (minor units)",
            )
        )
    return lines


def main() -> None:
    app()
