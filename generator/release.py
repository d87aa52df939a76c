"""Release: in one write transaction, the consents re-read, the licences and the charge
recorded and posted to the ledger (payouts/usage.py), and the job marked released.

Every grant the clearance relied on is read again under a shared row lock (``FOR SHARE`` on
PostgreSQL; SQLite runs one write transaction at a time). A revocation locks its grant for
update, so one that committed first is seen here, and the job is cancelled with nothing
recorded or charged; one that comes later waits until this release has committed. The job
moves from checking_output to released only for the attempt that checked it (a conditional
update, generator/jobs.py), so a release happens at most once, and the charge's unique
generation id would refuse a second anyway.

The signed clip is written, whole and flushed to disk, before this transaction: a released
job always has its manifest, and a crash before the commit leaves a job in checking_output,
which is retried (its unreleased file is never served).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from generator.jobs import move_job
from generator.models import JobState
from generator.provenance import Licence as ManifestLicence
from licensing.licences import PlannedLicence, tell_owners, withdrawn_consents
from licensing.models import Charge
from notifications.kinds import NoticeKind
from payouts.usage import post_release


class ReleaseOutcome(StrEnum):
    released = "released"
    cancelled = "cancelled"  # a consent relied on was withdrawn first
    lost = "lost"  # the job had moved on (another attempt holds it): nothing done


def manifest_licence(licence: PlannedLicence) -> ManifestLicence:
    """How the provenance manifest names one licence the release records."""
    return ManifestLicence(
        asset_id=licence.asset_id,
        grant_id=licence.grant_id,
        policy_version=licence.policy_version,
        price_minor=licence.price_minor,
        currency=licence.currency,
    )


def cancellation_reason(handles: Sequence[str]) -> str:
    named = ", ".join(f"@{handle}" for handle in handles)
    return (
        f"Consent for {named} was withdrawn before release: the generation is cancelled and "
        "nothing is charged."
    )


def release(
    session: Session,
    *,
    job_id: uuid.UUID,
    attempt: int,
    payer_id: uuid.UUID,
    clearance_id: uuid.UUID,
    licences: Sequence[PlannedLicence],
    total_minor: int,
    currency: str,
    video_name: str,
    video_sha256: str,
    now: datetime,
    leaving: JobState = JobState.checking_output,
) -> ReleaseOutcome:
    """Release the job in ``session``'s write transaction (see the module). ``leaving``:
    blocked, for an output released by the licences offered for it
    (generator/held_outputs.py), whose caller re-checks the consents first."""
    withdrawn = withdrawn_consents(
        session, grant_ids=[licence.grant_id for licence in licences], lock=True
    )
    if withdrawn:
        cancelled = move_job(
            session,
            job_id=job_id,
            attempt=attempt,
            leaving=JobState.checking_output,
            to=JobState.cancelled,
            now=now,
            reasons=[cancellation_reason(withdrawn)],
        )
        if cancelled:
            tell_owners(
                session,
                NoticeKind.use_cancelled,
                use={"generation_id": job_id},
                licences=licences,
                now=now,
            )
        return ReleaseOutcome.cancelled if cancelled else ReleaseOutcome.lost
    released = move_job(
        session,
        job_id=job_id,
        attempt=attempt,
        leaving=leaving,
        to=JobState.released,
        now=now,
        video_name=video_name,
        video_sha256=video_sha256,
        reasons=[],
    )
    if not released:
        return ReleaseOutcome.lost
    session.add_all(
        licence.recorded(clearance_id=clearance_id, generation_id=job_id, now=now)
        for licence in licences
    )
    session.add(
        Charge(
            generation_id=job_id,
            payer_id=payer_id,
            clearance_id=clearance_id,
            amount_minor=total_minor,
            currency=currency,
            created_at=now,
        )
    )
    post_release(session, generation_id=job_id, now=now)
    tell_owners(
        session, NoticeKind.use_released, use={"generation_id": job_id}, licences=licences, now=now
    )
    return ReleaseOutcome.released
