"""Asking for a generation: the request cleared by the clearance service, and queued when
cleared; and what its creator (each of theirs, or all of them a page at a time), and anyone
holding its status URL, read back."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.db import read_session, write_session
from clearhouse.errors import NotFound
from clearhouse.keys import KeyRing
from clearhouse.ownership import owned
from clearhouse.pagination import PageParams, paginate
from clearhouse.settings import Settings
from generator.errors import GenerationQueueFull, UnknownCameo
from generator.jobs import queue_job, queued_count
from generator.models import GenerationJob, JobState
from generator.provenance import generation_status_url
from generator.schemas import (
    ChargePublic,
    GenerationCreate,
    GenerationPublic,
    LicencePublic,
    Progress,
    TakedownPublic,
)
from licensing import presentation
from licensing.clearance import ClearanceResult, Touch, clear
from licensing.models import Charge, ClearedAsset, FoundIn, Licence
from licensing.requests import clearance_request
from licensing.schemas import ClearanceCreate, TouchedAsset
from licensing.touches import scan_request
from likeness.runtime import LikenessRuntime
from policies.models import PolicyVersion
from rights.matching.runtime import MatchingRuntime
from rights.models import Asset, ConsentReceipt, ReceiptEvent
from rights.references.catalogue import ReferenceCatalogue

# A full queue frees a place each time a generation ends: tens of seconds apart on a GPU.
QUEUE_FULL_RETRY_AFTER_S = 30


@dataclass(frozen=True)
class RequestedGeneration:
    clearance: ClearanceResult
    job: GenerationJob | None
    """Queued when the request was cleared."""


def request_generation(
    engine: Engine,
    *,
    requester: Account,
    body: GenerationCreate,
    matching: MatchingRuntime,
    likeness: LikenessRuntime,
    catalogue: ReferenceCatalogue,
    settings: Settings,
    keys: KeyRing,
    now: datetime,
) -> RequestedGeneration:
    """Clear the request (its prompt scanned, its cameos resolved) and, in the clearance's
    own transaction, queue its job when cleared. Raises UnknownCameo, and what clearing
    raises (QuoteRefused, RequestNotDigestible); GenerationQueueFull, before anything is
    cleared, when ``generation_queue_max`` jobs are queued. Requests arriving together may
    each see one place left, so the queue can pass the maximum by as many as arrive at once:
    bounded, not exact."""
    if queued_count(engine) >= settings.generation_queue_max:
        raise GenerationQueueFull(
            f"{settings.generation_queue_max} generations are already waiting to run; send "
            f"this request again in {QUEUE_FULL_RETRY_AFTER_S} seconds.",
            retry_after_s=QUEUE_FULL_RETRY_AFTER_S,
        )
    cameos = list(dict.fromkeys(body.cameos))
    parameters = {
        "duration_ms": body.duration_ms,
        "width": body.width,
        "height": body.height,
        "steps": body.steps,
        "fps": body.fps,
        "seed": body.seed,
        "cameos": cameos,
    }
    request = clearance_request(
        ClearanceCreate(
            prompt=body.prompt,
            declared_use=body.declared_use,
            content=body.content,
            parameters=parameters,
        )
    )
    with read_session(engine) as session:
        cameo_touches = resolve_cameos(session, handles=cameos)
        scanned = scan_request(
            session,
            prompt=body.prompt,
            uploads=[],
            matching=matching,
            likeness=likeness,
            catalogue=catalogue,
        )
    with write_session(engine) as session:
        result = clear(
            session,
            requester=requester,
            request=request,
            scanned=scanned.with_touches(cameo_touches),
            now=now,
            settings=settings,
            keys=keys,
        )
        job = None
        if result.token is not None:
            job = queue_job(
                session,
                requester_id=requester.id,
                clearance_id=result.clearance.id,
                prompt=request.prompt,
                declared_use=request.declared_use.value,
                parameters=parameters,
                clearance_token=result.token,
                now=now,
            )
    return RequestedGeneration(clearance=result, job=job)


def resolve_cameos(session: Session, *, handles: Sequence[str]) -> list[Touch]:
    """A touch for each cameo's live asset. Raises UnknownCameo naming those none has."""
    if not handles:
        return []
    assets = session.exec(
        select(Asset.handle, Asset.id).where(
            col(Asset.handle).in_(list(handles)), Asset.deleted_at.is_(None)
        )
    ).all()
    found = dict(assets)
    unknown = [handle for handle in handles if handle not in found]
    if unknown:
        named = ", ".join(f"@{handle}" for handle in unknown)
        raise UnknownCameo(f"No registered asset has the handle {named}: check the spelling.")
    return [
        Touch(asset_id=found[handle], evidence={"kind": "cameo", "text": f"@{handle}"})
        for handle in handles
    ]


def creators_generation(
    session: Session, *, requester_id: uuid.UUID, generation_id: uuid.UUID
) -> GenerationJob:
    """The generation, if ``requester_id`` asked for it; anyone else's is not found (404)."""
    return owned(
        session,
        GenerationJob,
        generation_id,
        owner_column=GenerationJob.requester_id,
        owner_id=requester_id,
        not_found=NotFound("No generation with this id among yours."),
    )


def creators_generations(
    session: Session,
    *,
    requester_id: uuid.UUID,
    state: JobState | None,
    taken_down: bool | None,
    params: PageParams,
) -> tuple[list[GenerationJob], int]:
    """One page of the generations ``requester_id`` asked for, newest first, and how many."""
    query = select(GenerationJob).where(GenerationJob.requester_id == requester_id)
    if state is not None:
        query = query.where(GenerationJob.state == state)
    if taken_down is not None:
        flagged = col(GenerationJob.taken_down_at)
        query = query.where(flagged.is_not(None) if taken_down else flagged.is_(None))
    ordered = query.order_by(col(GenerationJob.created_at).desc(), col(GenerationJob.id).desc())
    return paginate(session, ordered, params)


def released_generation(session: Session, *, generation_id: uuid.UUID) -> GenerationJob:
    """A released generation, whoever asks (its status is public); else not found."""
    job = session.get(GenerationJob, generation_id)
    if job is None or job.state != JobState.released:
        raise NotFound("No released generation has this id.")
    return job


def generation_public(
    session: Session, *, job: GenerationJob, settings: Settings
) -> GenerationPublic:
    [public] = generations_public(session, jobs=[job], settings=settings)
    return public


def generations_public(
    session: Session, *, jobs: Sequence[GenerationJob], settings: Settings
) -> list[GenerationPublic]:
    """What the creator reads of each of ``jobs``, in a few queries for all of them."""
    ids = [job.id for job in jobs]
    licences: dict[uuid.UUID, list[LicencePublic]] = defaultdict(list)
    for licence, handle, version in session.exec(
        select(Licence, Asset.handle, PolicyVersion.version)
        .join(Asset, Asset.id == Licence.asset_id)
        .join(PolicyVersion, PolicyVersion.id == Licence.policy_version_id)
        .where(col(Licence.generation_id).in_(ids))
        .order_by(Asset.handle)
    ).all():
        licences[licence.generation_id].append(
            LicencePublic(
                asset_id=licence.asset_id,
                handle=handle,
                grant_id=licence.grant_id,
                policy_version=version,
                price_minor=licence.price_minor,
                currency=licence.currency,
            )
        )
    charges = {
        charge.generation_id: ChargePublic(
            amount_minor=charge.amount_minor, currency=charge.currency
        )
        for charge in session.exec(select(Charge).where(col(Charge.generation_id).in_(ids)))
    }
    found = _found_in_blocked_outputs(session, jobs=jobs)
    receipts = _withdrawal_receipts(
        session, grant_ids=[job.takedown_grant_id for job in jobs if job.takedown_grant_id]
    )
    base = settings.public_url.rstrip("/")
    public = []
    for job in jobs:
        released = job.state == JobState.released
        takedown = None
        if job.taken_down_at is not None:
            [withdrawn] = [
                licence for licence in licences[job.id] if licence.grant_id == job.takedown_grant_id
            ]
            takedown = TakedownPublic(
                taken_down_at=job.taken_down_at,
                asset_id=withdrawn.asset_id,
                handle=withdrawn.handle,
                grant_id=withdrawn.grant_id,
                withdrawal_receipt_id=receipts.get(withdrawn.grant_id),
            )
        public.append(
            GenerationPublic(
                id=job.id,
                state=job.state,
                progress=Progress(steps_done=job.steps_done, steps_total=job.steps_total),
                attempts=job.attempts,
                reasons=job.reasons,
                found=found.get(job.output_check_id, []),
                clearance_id=job.clearance_id,
                prompt=job.prompt,
                declared_use=job.declared_use,
                parameters=job.parameters,
                created_at=job.created_at,
                started_at=job.started_at,
                finished_at=job.finished_at,
                licences=licences[job.id],
                charge=charges.get(job.id),
                video_url=(
                    f"{base}/v1/generations/{job.id}/video"
                    if released and takedown is None
                    else None
                ),
                status_url=(
                    generation_status_url(public_url=settings.public_url, generation_id=job.id)
                    if released
                    else None
                ),
                taken_down=takedown,
            )
        )
    return public


def _found_in_blocked_outputs(
    session: Session, *, jobs: Sequence[GenerationJob]
) -> dict[uuid.UUID, list[TouchedAsset]]:
    """By output check: what each blocked job's output showed that its clearance did not
    cover, as the output check tells its requester (a person who has not consented to them is
    not named, and no face's score is shown)."""
    checks = [job.output_check_id for job in jobs if job.output_check_id is not None]
    found: dict[uuid.UUID, list[TouchedAsset]] = defaultdict(list)
    if not checks:
        return found
    for cleared, handle, kind in session.exec(
        select(ClearedAsset, Asset.handle, Asset.kind)
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .where(
            col(ClearedAsset.output_check_id).in_(checks),
            ClearedAsset.found_in == FoundIn.output,
        )
        .order_by(ClearedAsset.created_at, ClearedAsset.id)
    ).all():
        found[cleared.output_check_id].append(
            presentation.stored_touched_asset(cleared, handle=handle, kind=kind, approval=None)
        )
    return found


def _withdrawal_receipts(
    session: Session, *, grant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The receipt of each withdrawn grant's withdrawal. Its id is no secret from a creator
    licensed under the grant: the grant's public status names it."""
    if not grant_ids:
        return {}
    return dict(
        session.exec(
            select(ConsentReceipt.grant_id, ConsentReceipt.id).where(
                col(ConsentReceipt.grant_id).in_(list(grant_ids)),
                ConsentReceipt.event == ReceiptEvent.consent_withdrawn,
            )
        ).all()
    )
