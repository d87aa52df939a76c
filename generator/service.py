"""Asking for a generation: the request cleared by the clearance service, and queued when
cleared; and what its creator, and anyone holding its status URL, read back."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.db import read_session, write_session
from clearhouse.errors import NotFound
from clearhouse.keys import KeyRing
from clearhouse.ownership import owned
from clearhouse.settings import Settings
from generator.errors import UnknownCameo
from generator.jobs import queue_job
from generator.models import GenerationJob, JobState
from generator.provenance import generation_status_url
from generator.schemas import (
    ChargePublic,
    GenerationCreate,
    GenerationPublic,
    LicencePublic,
    Progress,
)
from licensing.clearance import ClearanceResult, Touch, clear
from licensing.models import Charge, Licence
from licensing.requests import clearance_request
from licensing.schemas import ClearanceCreate
from licensing.touches import scan_request
from likeness.runtime import LikenessRuntime
from policies.models import PolicyVersion
from rights.matching.runtime import MatchingRuntime
from rights.models import Asset, ConsentGrant, GrantStatus
from rights.references.catalogue import ReferenceCatalogue


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
    raises (QuoteRefused, RequestNotDigestible)."""
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
        engine,
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
            touches=scanned.touches + cameo_touches,
            content_found=scanned.content,
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


def released_generation(session: Session, *, generation_id: uuid.UUID) -> GenerationJob:
    """A released generation, whoever asks (its status is public); else not found."""
    job = session.get(GenerationJob, generation_id)
    if job is None or job.state != JobState.released:
        raise NotFound("No released generation has this id.")
    return job


def consent_withdrawn_at(session: Session, *, generation_id: uuid.UUID) -> datetime | None:
    """When the first consent the generation was licensed under was withdrawn, if one was:
    from then on its clip is taken down."""
    return session.exec(
        select(func.min(ConsentGrant.revoked_at))
        .join(Licence, Licence.grant_id == ConsentGrant.id)
        .where(Licence.generation_id == generation_id, ConsentGrant.status == GrantStatus.revoked)
    ).one()


def generation_public(
    session: Session, *, job: GenerationJob, settings: Settings
) -> GenerationPublic:
    licences = session.exec(
        select(Licence, Asset.handle, PolicyVersion.version)
        .join(Asset, Asset.id == Licence.asset_id)
        .join(PolicyVersion, PolicyVersion.id == Licence.policy_version_id)
        .where(Licence.generation_id == job.id)
        .order_by(Asset.handle)
    ).all()
    charge = session.exec(select(Charge).where(Charge.generation_id == job.id)).first()
    released = job.state == JobState.released
    base = settings.public_url.rstrip("/")
    return GenerationPublic(
        id=job.id,
        state=job.state,
        progress=Progress(steps_done=job.steps_done, steps_total=job.steps_total),
        attempts=job.attempts,
        reasons=job.reasons,
        clearance_id=job.clearance_id,
        prompt=job.prompt,
        declared_use=job.declared_use,
        parameters=job.parameters,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        licences=[
            LicencePublic(
                asset_id=licence.asset_id,
                handle=handle,
                grant_id=licence.grant_id,
                policy_version=version,
                price_minor=licence.price_minor,
                currency=licence.currency,
            )
            for licence, handle, version in licences
        ],
        charge=(
            ChargePublic(amount_minor=charge.amount_minor, currency=charge.currency)
            if charge
            else None
        ),
        video_url=f"{base}/v1/generations/{job.id}/video" if released else None,
        status_url=(
            generation_status_url(public_url=settings.public_url, generation_id=job.id)
            if released
            else None
        ),
    )
