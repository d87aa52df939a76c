"""Routes of clearance: clear a generation request (with its input media or without), read it
back, check its generated output, owners' approvals and the usage of an asset."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from clearhouse.accounts.dependencies import VerifiedHolderAccount, require_verified
from clearhouse.accounts.errors import EmailNotVerified
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import read_session, utcnow, write_session
from clearhouse.deps import (
    CallerCredentials,
    Credentials,
    CurrentAccount,
    EngineDep,
    HolderAccount,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    authenticate,
)
from clearhouse.errors import Forbidden, NotFound, Unauthenticated, raises
from clearhouse.keys import KeyRing
from clearhouse.media import DECODING_ERRORS, MediaTooLarge
from clearhouse.pagination import Page, Paging
from clearhouse.rate_limit import RateLimited, RateLimiter, RateLimiterUnavailable
from clearhouse.schemas import QueryFlag
from clearhouse.settings import Settings
from clearhouse.uploads import (
    UnreadableUpload,
    json_with_files_request_body,
    json_with_files_route,
    multipart_request_body,
    read_uploads,
    uploaded_files,
)
from licensing import approvals, presentation, usage
from licensing.clearance import clear
from licensing.errors import (
    ApprovalClosed,
    ClearanceNotCleared,
    QuoteRefused,
    RequestNotDigestible,
)
from licensing.models import ApprovalStatus
from licensing.output_checks import check_output
from licensing.requests import clearance_request
from licensing.schemas import (
    ApprovalPublic,
    AssetUse,
    ClearanceCreate,
    ClearancePublic,
    OutputCheckPublic,
    UseState,
)
from licensing.touches import media_sha256, scan_request
from likeness.errors import FaceIndexUnavailable, MediaBusy, MediaWorkerLost
from likeness.runtime import LikenessDep, LikenessRuntime
from payouts.errors import InsufficientCredits
from policies.decisions import AssetOutcome
from rights.dependencies import OwnedAssetIncludingDeleted
from rights.matching.runtime import MatchingRuntime
from rights.references.catalogue import ReferenceCatalogue, ReferenceCatalogueDep

router = APIRouter(prefix="/v1")

#: Input files one clearance request may carry (images, or a short video).
MAX_INPUT_FILES = 8
#: Files one output check may carry (frames, or the video).
MAX_OUTPUT_FILES = 16
MEDIA = "Images (JPEG, PNG, WebP) or videos (MP4, MOV, WebM, MKV, AVI)"

#: The routes whose bodies are media, for the body size limit: (method, path template).
UPLOAD_ROUTES = (
    ("POST", "/v1/clearances"),
    ("POST", "/v1/clearances/{clearance_id}/output-check"),
)


@raises(UnreadableUpload, MediaTooLarge)
async def output_uploads(request: Request) -> list[bytes]:
    """The frames or video of a generated output: 1 to 16 files named ``files``."""
    return await read_uploads(
        request,
        field="files",
        max_files=MAX_OUTPUT_FILES,
        expected=f"Send 1 to {MAX_OUTPUT_FILES} frames or a video of the output as `files`",
    )


@dataclass(frozen=True)
class Clearing:
    """What clearing a request uses of the running app, read from its state by one dependency:
    each dependency FastAPI solves costs the event loop tens of microseconds a request, and
    this route had seven of them."""

    engine: Engine
    settings: Settings
    keys: KeyRing
    limiter: RateLimiter
    matching: MatchingRuntime
    likeness: LikenessRuntime
    catalogue: ReferenceCatalogue


async def get_clearing(request: Request) -> Clearing:
    """Async: no I/O, so no hand-off to the thread pool."""
    state = request.app.state
    return Clearing(
        engine=state.engine,
        settings=state.settings,
        keys=state.keys,
        limiter=state.rate_limiter,
        matching=state.matching,
        likeness=state.likeness,
        catalogue=state.reference_catalogue,
    )


@raises(
    Unauthenticated,
    Forbidden,
    RateLimited,
    RateLimiterUnavailable,
    QuoteRefused,
    RequestNotDigestible,
    InsufficientCredits,
    EmailNotVerified,
    *DECODING_ERRORS,
    MediaBusy,
    MediaWorkerLost,
    FaceIndexUnavailable,
)
@needs_scope(Scope.clearance)
async def create_clearance(
    request: Request,
    body: ClearanceCreate,
    uploads: Annotated[list[bytes], Depends(uploaded_files)],
    credentials: CallerCredentials,
    clearing: Annotated[Clearing, Depends(get_clearing)],
) -> ClearancePublic:
    """Clear a generation request before any model runs: every registered asset its prompt
    and its input media touch, decided under the owners' current policies, priced in the
    open, and (when every asset allows) signed in a clearance token bound to this exact
    request (its digest covers the SHA-256 of each input file, in order).

    Send JSON, or, with input images or a short video, a multipart form: the same JSON as
    `request` and the files as `files`. A face in them that belongs to a registered person
    who has not consented to you denies the request without saying who; a face they
    consented to is named and priced; a face nobody registered changes nothing.

    The request shows the content categories declared in `content` and those the content
    check finds in the prompt (`content` in the answer says which, and why); an asset whose
    policy excludes one of them is denied.

    Every outcome is recorded, and each owner sees it among their asset's usage. A request
    that waits for an owner's approval can be sent again, unchanged, once they approve. An
    owner is asked one request of yours at a time for each asset: while one waits, another
    that needs the same approval is denied, naming the clearance that waits."""
    # Async, with all the work in one hand-off to the thread pool, the caller's lookup
    # included (in the session the scans read in): FastAPI checks a plain `def` route's
    # answer against its response model in a second hand-off, and `CurrentAccount` would
    # take one of its own; checked here on the event loop, the answer (a ClearancePublic) is
    # only an isinstance check away from its JSON.
    return await run_in_threadpool(
        _clear_request, request, body, uploads=uploads, credentials=credentials, clearing=clearing
    )


def _clear_request(
    request: Request,
    body: ClearanceCreate,
    *,
    uploads: list[bytes],
    credentials: Credentials,
    clearing: Clearing,
) -> ClearancePublic:
    """:func:`create_clearance`'s work, in a thread of the pool: the caller looked up (anew on
    every request, as `CurrentAccount` does: a revoked key or a disabled account stops at
    once) and the scans in one read session, then the write."""
    engine, settings = clearing.engine, clearing.settings
    with read_session(engine) as session:
        requester = require_verified(
            authenticate(
                request,
                session,
                credentials=credentials,
                settings=settings,
                keys=clearing.keys,
                limiter=clearing.limiter,
            )
        )
        cleared = clearance_request(body, input_media_sha256=media_sha256(uploads))
        scanned = scan_request(
            session,
            prompt=cleared.prompt,
            uploads=uploads,
            matching=clearing.matching,
            likeness=clearing.likeness,
            catalogue=clearing.catalogue,
        )
    with write_session(engine) as session:
        result = clear(
            session,
            requester=requester,
            request=cleared,
            scanned=scanned,
            now=utcnow(),
            settings=settings,
            keys=clearing.keys,
        )
    return presentation.clearance_for_requester(result, verified=result.verified)


# Added, not decorated: the route reads its JSON body, or the same JSON beside files in a
# multipart form, through a route class of its own.
router.add_api_route(
    "/clearances",
    create_clearance,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=ClearancePublic,
    tags=["clearances"],
    route_class_override=json_with_files_route(
        json_field="request", files_field="files", max_files=MAX_INPUT_FILES
    ),
    openapi_extra=json_with_files_request_body(
        model="ClearanceCreate",
        json_field="request",
        files_field="files",
        max_files=MAX_INPUT_FILES,
        description=f"The request's input media, in order. {MEDIA}.",
    ),
)


@router.get("/clearances/{clearance_id}", response_model=ClearancePublic, tags=["clearances"])
@raises(NotFound)
@needs_scope(Scope.clearance)
def read_clearance(clearance_id: uuid.UUID, requester: CurrentAccount, session: ReadSessionDep):
    """One of your clearances, with the owners' answers so far (its token is not shown
    again)."""
    return presentation.stored_clearance_for_requester(
        session, clearance_id=clearance_id, requester_id=requester.id
    )


@router.post(
    "/clearances/{clearance_id}/output-check",
    response_model=OutputCheckPublic,
    tags=["clearances"],
    openapi_extra=multipart_request_body(
        field="files",
        max_files=MAX_OUTPUT_FILES,
        description=f"Frames or a video of the generated output. {MEDIA}.",
    ),
)
@raises(
    NotFound,
    ClearanceNotCleared,
    *DECODING_ERRORS,
    MediaBusy,
    MediaWorkerLost,
    FaceIndexUnavailable,
)
@needs_scope(Scope.clearance)
def output_check(
    clearance_id: uuid.UUID,
    uploads: Annotated[list[bytes], Depends(output_uploads)],
    requester: CurrentAccount,
    engine: EngineDep,
    likeness: LikenessDep,
    catalogue: ReferenceCatalogueDep,
):
    """Before releasing what a cleared request generated: its frames or video, checked for
    every registered face, character and style. Release is allowed only if the clearance
    covers everything found; anything else blocks it, is named in `found` (a person who has
    not consented to you is not), and its owner sees the attempt. Only your own cleared
    clearances."""
    return check_output(
        engine,
        requester=requester,
        clearance_id=clearance_id,
        uploads=uploads,
        likeness=likeness,
        catalogue=catalogue,
        now=utcnow(),
    )


@router.get("/assets/{asset_id}/usage", response_model=Page[AssetUse], tags=["assets"])
@needs_scope(Scope.assets_read)
def read_asset_usage(
    asset: OwnedAssetIncludingDeleted,
    session: ReadSessionDep,
    paging: Paging,
    outcome: Annotated[AssetOutcome | None, Query(description="Only this outcome.")] = None,
    state: Annotated[
        UseState | None, Query(description="Only uses that came to this (see `state`).")
    ] = None,
    taken_down: Annotated[
        QueryFlag | None,
        Query(
            description="`true`: only uses whose released clip was taken down (a consent it "
            "was licensed under was withdrawn); `false`: only the others."
        ),
    ] = None,
):
    """Every request that touched your asset, newest first: allowed, denied or waiting for
    you, who asked, for what use, and the fee; what came of the generation our generator ran
    for it, and when its clip was taken down, if it was."""
    items, total = usage.owner_usage(
        session,
        owner_id=asset.owner_id,
        asset_id=asset.id,
        outcome=outcome,
        state=state,
        taken_down=taken_down,
        now=utcnow(),
        params=paging,
    )
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/approvals", response_model=Page[ApprovalPublic], tags=["approvals"])
@needs_scope(Scope.assets_read)
def list_approvals(
    owner: HolderAccount,
    session: ReadSessionDep,
    paging: Paging,
    status_: Annotated[
        ApprovalStatus | None, Query(alias="status", description="Only this state.")
    ] = ApprovalStatus.pending,
):
    """Requests for your assets that wait for your answer (or, with `status`, were answered)."""
    items, total = approvals.list_for_owner(
        session, owner_id=owner.id, status=status_, now=utcnow(), params=paging
    )
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalPublic, tags=["approvals"])
@raises(NotFound, ApprovalClosed)
@needs_scope(Scope.assets_write)
def approve(
    approval_id: uuid.UUID, owner: VerifiedHolderAccount, session: SessionDep, settings: SettingsDep
):
    """Say yes to this one request, waiting or declined by you while your no stands: the
    requester may send it again, unchanged, and it is cleared for your asset until the approval
    expires (`CLEARHOUSE_APPROVAL_HOURS`)."""
    return approvals.answer(
        session, owner=owner, approval_id=approval_id, approve=True, settings=settings
    )


@router.post("/approvals/{approval_id}/decline", response_model=ApprovalPublic, tags=["approvals"])
@raises(NotFound, ApprovalClosed)
@needs_scope(Scope.assets_write)
def decline(
    approval_id: uuid.UUID, owner: HolderAccount, session: SessionDep, settings: SettingsDep
):
    """Say no to this request. Your no stands for the requester and the asset under the policy
    version it was asked under (`CLEARHOUSE_DECLINE_DAYS`): their further requests for it are
    refused, without asking you again, until you consent to a new version or approve this one
    after all."""
    return approvals.answer(
        session, owner=owner, approval_id=approval_id, approve=False, settings=settings
    )
