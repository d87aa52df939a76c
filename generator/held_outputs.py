"""Blocked outputs held, and released when every asset that blocked one is licensed.

A job whose output check blocks it keeps its unsigned clip as ``JOB.held.mp4`` in the data
dir's generations/, with ``JOB.held.json`` (the model that made it), never served. When the
owners of the assets that blocked it offer licences and its creator accepts them
(licensing/offers/), the clip is signed with a manifest naming every licence, the
clearance's and the offered ones, and released in one write transaction by
:func:`generator.release.release`, from blocked: the same licences, charge and ledger entry
(``release:<generation id>``) as any release, so a second acceptance finds the job released
and posts nothing, and a later withdrawal takes it down like any other.

The clip is signed before that transaction, under a name of its own per try, so two
acceptances racing each sign their own file and the one whose release loses removes it.

A held clip may show someone who did not consent, so it is kept only for the owners' window to
offer (``held_output_hours`` after the block) and while an offer made in it is still open:
:func:`discard_lapsed_held_outputs`, each round of the generation worker, deletes the rest.
"""

import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, exists, or_
from sqlmodel import Session, col, select

from clearhouse.db import read_session
from clearhouse.settings import Settings
from generator.models import GenerationJob, JobState
from generator.provenance import GenerationRecord, generation_status_url, sign_clip
from generator.release import ReleaseOutcome, manifest_licence, release
from generator.signing_identity import SigningIdentity
from licensing.licences import PlannedLicence
from licensing.offers.models import LicenceOffer, OfferStatus


def held_clip(generations_dir: Path, job_id: uuid.UUID) -> Path:
    return generations_dir / f"{job_id}.held.mp4"


def _held_facts(generations_dir: Path, job_id: uuid.UUID) -> Path:
    return generations_dir / f"{job_id}.held.json"


def hold_output(generations_dir: Path, *, job_id: uuid.UUID, unsigned: Path, model: str) -> None:
    """Keep the blocked job's unsigned clip (moved, not copied) and the model that made it."""
    _held_facts(generations_dir, job_id).write_text(json.dumps({"model": model}))
    unsigned.replace(held_clip(generations_dir, job_id))


def discard_held_output(generations_dir: Path, *, job_id: uuid.UUID) -> None:
    held_clip(generations_dir, job_id).unlink(missing_ok=True)
    _held_facts(generations_dir, job_id).unlink(missing_ok=True)


def held_for_offers(job: GenerationJob, *, now: datetime, keep_hours: int) -> bool:
    """Whether the blocked ``job``'s window for licence offers is still open."""
    return job.finished_at is not None and job.finished_at > now - timedelta(hours=keep_hours)


def discard_lapsed_held_outputs(
    engine: Engine, *, generations_dir: Path, now: datetime, keep_hours: int
) -> list[uuid.UUID]:
    """Delete every held clip whose job is past its window for offers (or no longer blocked)
    and has no offer still open; the jobs whose clips went. Only the clips on disk are read,
    so the work stays as small as the window, however many jobs were ever blocked."""
    held = [
        uuid.UUID(path.name.removesuffix(".held.mp4"))
        for path in generations_dir.glob("*.held.mp4")
    ]
    if not held:
        return []
    open_offer = exists().where(
        LicenceOffer.generation_id == GenerationJob.id,
        LicenceOffer.status == OfferStatus.pending,
        LicenceOffer.expires_at > now,
    )
    with read_session(engine) as session:
        lapsed = session.exec(
            select(GenerationJob.id).where(
                col(GenerationJob.id).in_(held),
                or_(
                    GenerationJob.state != JobState.blocked,
                    col(GenerationJob.finished_at) <= now - timedelta(hours=keep_hours),
                ),
                ~open_offer,
            )
        ).all()
    for job_id in lapsed:
        discard_held_output(generations_dir, job_id=job_id)
    return list(lapsed)


@dataclass(frozen=True)
class SignedRelease:
    """A held clip signed for release: the file, under its try's own name."""

    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def sign_held_output(
    settings: Settings,
    *,
    identity: SigningIdentity,
    job: GenerationJob,
    licences: Sequence[PlannedLicence],
) -> SignedRelease | None:
    """The held clip of ``job`` signed with a manifest naming ``licences``, flushed to disk;
    None when no clip is held (it was never kept, or was removed)."""
    generations_dir = settings.generations_dir
    held = held_clip(generations_dir, job.id)
    try:
        model = json.loads(_held_facts(generations_dir, job.id).read_text())["model"]
    except FileNotFoundError:
        return None
    if not held.exists():
        return None
    signed = generations_dir / f"{job.id}-{job.attempts}-{secrets.token_hex(4)}.mp4"
    record = GenerationRecord(
        generation_id=job.id,
        clearance_id=job.clearance_id,
        generated_at=job.finished_at or job.created_at,
        model=model,
        licences=tuple(manifest_licence(licence) for licence in licences),
        status_url=generation_status_url(public_url=settings.public_url, generation_id=job.id),
    )
    sign_clip(video=held, destination=signed, record=record, identity=identity)
    with signed.open("rb") as written:
        os.fsync(written.fileno())
        digest = hashlib.file_digest(written, "sha256").hexdigest()
    return SignedRelease(path=signed, sha256=digest)


def release_held_output(
    session: Session,
    *,
    job: GenerationJob,
    licences: Sequence[PlannedLicence],
    total_minor: int,
    currency: str,
    signed: SignedRelease,
    now: datetime,
) -> bool:
    """Release the blocked ``job`` with ``licences`` and a charge of ``total_minor``, in
    ``session``'s write transaction; False when it is no longer blocked (released by another
    acceptance first). The caller has re-read the consents under their locks."""
    outcome = release(
        session,
        job_id=job.id,
        attempt=job.attempts,
        payer_id=job.requester_id,
        clearance_id=job.clearance_id,
        licences=licences,
        total_minor=total_minor,
        currency=currency,
        video_name=signed.name,
        video_sha256=signed.sha256,
        now=now,
        leaving=JobState.blocked,
    )
    return outcome == ReleaseOutcome.released
