"""`clearhouse generate` (a clip for an account, cleared, run and released as the API would)
and `clearhouse verify` (the provenance of a generated video)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlmodel import Session, select

from clearhouse.cli_session import migrated_session
from clearhouse.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from generator.provenance import Provenance
    from generator.runtime import GeneratorRuntime


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
    with migrated_session(settings) as session:
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
    from rights.matching.clip_embeddings import start_clip_matching
    from rights.references.catalogue import ReferenceCatalogue

    with Session(engine) as session:
        keys = remember_keys(session, KeyRing.load(settings))
        session.commit()
    return GeneratorRuntime(
        engine=engine,
        settings=settings,
        keys=keys,
        likeness=LikenessRuntime.start(settings=settings, engine=engine),
        catalogue=ReferenceCatalogue.start(engine=engine, clip=start_clip_matching(settings)),
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
