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
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from generator.jobs import move_job
from generator.models import JobState
from generator.provenance import Licence as ManifestLicence
from licensing.errors import ClearanceRefusal, ClearanceTokenRefused
from licensing.models import Charge, ClearedAsset, FoundIn, Licence
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from payouts.usage import post_release
from policies.decisions import AssetOutcome, ReliedGrant
from policies.models import PolicyVersion
from rights.models import Asset, ConsentGrant, GrantStatus


class ReleaseOutcome(StrEnum):
    released = "released"
    cancelled = "cancelled"  # a consent relied on was withdrawn first
    lost = "lost"  # the job had moved on (another attempt holds it): nothing done


@dataclass(frozen=True)
class PlannedLicence:
    """A licence the release will record, as the clearance priced it."""

    asset_id: uuid.UUID
    handle: str
    grant_id: uuid.UUID
    policy_version_id: uuid.UUID
    policy_version: int
    price_minor: int
    currency: str

    def for_manifest(self) -> ManifestLicence:
        return ManifestLicence(
            asset_id=self.asset_id,
            grant_id=self.grant_id,
            policy_version=self.policy_version,
            price_minor=self.price_minor,
            currency=self.currency,
        )


def planned_licences(
    session: Session,
    *,
    clearance_id: uuid.UUID,
    relied_on: Sequence[ReliedGrant],
    currency: str,
) -> list[PlannedLicence]:
    """A licence for each grant the clearance token relies on, at the fee the clearance
    recorded for its asset. Raises ClearanceTokenRefused when the token names a grant the
    clearance did not allow (we signed both, so only a forged store gets here)."""
    rows = session.exec(
        select(ClearedAsset, PolicyVersion.version, Asset.handle)
        .join(PolicyVersion, PolicyVersion.id == ClearedAsset.policy_version_id)
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .where(
            ClearedAsset.clearance_id == clearance_id,
            ClearedAsset.found_in == FoundIn.request,
            ClearedAsset.outcome == AssetOutcome.allow,
        )
    ).all()
    allowed = {cleared.grant_id: (cleared, version, handle) for cleared, version, handle in rows}
    licences = []
    for relied in relied_on:
        if relied.grant_id not in allowed:
            raise ClearanceTokenRefused(
                ClearanceRefusal.claims_rejected,
                "The clearance token relies on a grant its clearance did not allow.",
            )
        cleared, version, handle = allowed[relied.grant_id]
        licences.append(
            PlannedLicence(
                asset_id=relied.asset_id,
                handle=handle,
                grant_id=relied.grant_id,
                policy_version_id=relied.policy_version_id,
                policy_version=version,
                price_minor=cleared.fee_minor or 0,
                currency=currency,
            )
        )
    return licences


def withdrawn_consents(
    session: Session, *, grant_ids: Sequence[uuid.UUID], lock: bool
) -> list[str]:
    """The handles of the assets whose grant among ``grant_ids`` is no longer active, read
    under a shared row lock when ``lock`` (the release's re-check)."""
    if not grant_ids:
        return []
    query = (
        select(ConsentGrant.id, ConsentGrant.status, Asset.handle)
        .join(Asset, Asset.id == ConsentGrant.asset_id)
        .where(col(ConsentGrant.id).in_(list(grant_ids)))
    )
    if lock:
        query = query.with_for_update(of=ConsentGrant, read=True)
    return sorted(
        {handle for _, status, handle in session.exec(query).all() if status != GrantStatus.active}
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
            _tell_owners(
                session, NoticeKind.use_cancelled, job_id=job_id, licences=licences, now=now
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
        Licence(
            generation_id=job_id,
            clearance_id=clearance_id,
            asset_id=licence.asset_id,
            grant_id=licence.grant_id,
            policy_version_id=licence.policy_version_id,
            price_minor=licence.price_minor,
            currency=licence.currency,
            created_at=now,
        )
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
    _tell_owners(session, NoticeKind.use_released, job_id=job_id, licences=licences, now=now)
    return ReleaseOutcome.released


def _tell_owners(
    session: Session,
    kind: NoticeKind,
    *,
    job_id: uuid.UUID,
    licences: Sequence[PlannedLicence],
    now: datetime,
) -> None:
    """Tell each licensed asset's owner, in the release's transaction, what came of the use."""
    owners = dict(
        session.exec(
            select(Asset.id, Asset.owner_id).where(
                col(Asset.id).in_([licence.asset_id for licence in licences])
            )
        ).all()
    )
    notify_all(
        session,
        (
            NoticeDraft(
                owners[licence.asset_id],
                kind,
                [licence.asset_id, job_id],
                {
                    "asset_id": str(licence.asset_id),
                    "handle": licence.handle,
                    "generation_id": str(job_id),
                    # A cancelled generation is charged nothing.
                    "fee_minor": licence.price_minor if kind == NoticeKind.use_released else 0,
                    "currency": licence.currency,
                },
            )
            for licence in licences
            if owners.get(licence.asset_id) is not None
        ),
        now=now,
    )
