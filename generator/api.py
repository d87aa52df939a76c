"""Routes of generations: ask for one (cleared, then queued), follow it, fetch its clip, and
the public status its manifest points at."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import FileResponse

from clearhouse.accounts.dependencies import VerifiedAccount
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import read_session, utcnow
from clearhouse.deps import CurrentAccount, EngineDep, KeysDep, ReadSessionDep, SettingsDep
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from clearhouse.schemas import QueryFlag
from generator import service
from generator.errors import (
    ClipTakenDown,
    GenerationNotReleased,
    GenerationQueueFull,
    UnknownCameo,
)
from generator.models import JobState
from generator.schemas import (
    GenerationCreate,
    GenerationPublic,
    GenerationRequested,
    GenerationStatus,
)
from generator.worker import GenerationWorker
from licensing import presentation
from licensing.errors import QuoteRefused, RequestNotDigestible
from likeness.runtime import LikenessDep
from payouts.errors import InsufficientCredits
from rights.matching.runtime import MatchingDep
from rights.references.catalogue import ReferenceCatalogueDep

router = APIRouter(prefix="/v1", tags=["generations"])


async def get_generation_worker(request: Request) -> GenerationWorker | None:
    return request.app.state.generation_worker


WorkerDep = Annotated[GenerationWorker | None, Depends(get_generation_worker)]


@router.post(
    "/generations", response_model=GenerationRequested, status_code=status.HTTP_201_CREATED
)
@raises(UnknownCameo, QuoteRefused, RequestNotDigestible, InsufficientCredits, GenerationQueueFull)
@needs_scope(Scope.clearance)
def create_generation(
    body: GenerationCreate,
    requester: VerifiedAccount,
    engine: EngineDep,
    settings: SettingsDep,
    keys: KeysDep,
    matching: MatchingDep,
    likeness: LikenessDep,
    catalogue: ReferenceCatalogueDep,
    worker: WorkerDep,
):
    """Generate a clip: the request is cleared first (every registered asset its prompt and
    cameos touch, decided under the owners' policies and priced in the open), and queued only
    when cleared. A denied request, or one that waits for an owner's approval, answers with
    the clearance and its reasons and no generation; send it again, unchanged, once approved.

    The generator runs only what the clearance token it was given clears, checks the output
    again before release (anything the clearance does not cover blocks it), and releases in
    one step: consents re-read (one withdrawn meanwhile cancels it, at no charge), licences
    and the charge recorded, the clip signed with a C2PA manifest naming them."""
    requested = service.request_generation(
        engine,
        requester=requester,
        body=body,
        matching=matching,
        likeness=likeness,
        catalogue=catalogue,
        settings=settings,
        keys=keys,
        now=utcnow(),
    )
    if requested.job is not None and worker is not None:
        worker.wake()
    generation = None
    if requested.job is not None:
        with read_session(engine) as session:
            generation = service.generation_public(session, job=requested.job, settings=settings)
    clearance = presentation.clearance_for_requester(
        requested.clearance, verified=requested.clearance.verified
    )
    # The token went to the generator: it clears this one run, not a second elsewhere.
    clearance = clearance.model_copy(update={"token": None})
    return GenerationRequested(clearance=clearance, generation=generation)


@router.get("/generations", response_model=Page[GenerationPublic])
@needs_scope(Scope.clearance)
def list_generations(
    requester: CurrentAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    paging: Paging,
    state: Annotated[JobState | None, Query(description="Only generations in this state.")] = None,
    taken_down: Annotated[
        QueryFlag | None,
        Query(
            description="`true`: only released clips taken down since (a consent they were "
            "licensed under was withdrawn); `false`: only the others."
        ),
    ] = None,
):
    """Your generations, newest first, as `GET /v1/generations/{id}` shows each."""
    jobs, total = service.creators_generations(
        session, requester_id=requester.id, state=state, taken_down=taken_down, params=paging
    )
    return Page(
        items=service.generations_public(session, jobs=jobs, settings=settings),
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/generations/{generation_id}", response_model=GenerationPublic)
@raises(NotFound)
@needs_scope(Scope.clearance)
def read_generation(
    generation_id: uuid.UUID,
    requester: CurrentAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
):
    """One of your generations: its state, progress (denoising steps done of all), why it
    ended as it did (and, when blocked, what its output showed), once released its licences,
    charge and clip, and whether the clip was taken down since, when and why."""
    job = service.creators_generation(
        session, requester_id=requester.id, generation_id=generation_id
    )
    return service.generation_public(session, job=job, settings=settings)


@router.get(
    "/generations/{generation_id}/video",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The clip, H.264 in MP4, with its signed C2PA manifest.",
        }
    },
)
@raises(NotFound, GenerationNotReleased, ClipTakenDown)
@needs_scope(Scope.clearance)
def read_generation_video(
    generation_id: uuid.UUID,
    requester: CurrentAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
):
    """The clip of one of your released generations, with its C2PA manifest (`clearhouse
    verify` prints it). Gone (410) once a consent it was licensed under is withdrawn."""
    job = service.creators_generation(
        session, requester_id=requester.id, generation_id=generation_id
    )
    if job.state != JobState.released:
        raise GenerationNotReleased(
            f"This generation is {job.state.value}: only a released one has a clip."
            + (f" {' '.join(job.reasons)}" if job.reasons else "")
        )
    if job.taken_down_at is not None:
        raise ClipTakenDown(
            "A consent this clip was licensed under was withdrawn at "
            f"{job.taken_down_at.isoformat()}: it is no longer served (`taken_down` in the "
            "generation says which)."
        )
    return FileResponse(
        settings.generations_dir / job.video_name,
        media_type="video/mp4",
        filename=f"clearhouse-{job.id}.mp4",
    )


@router.get("/generations/{generation_id}/status", response_model=GenerationStatus)
@raises(NotFound)
def read_generation_status(generation_id: uuid.UUID, session: ReadSessionDep):
    """Public, for anyone who holds the clip: `released` while it may be shown, `revoked`
    once a consent it was licensed under is withdrawn. Its C2PA manifest names this URL."""
    job = service.released_generation(session, generation_id=generation_id)
    return GenerationStatus(
        generation_id=job.id,
        status="revoked" if job.taken_down_at is not None else "released",
        revoked_at=job.taken_down_at,
    )
