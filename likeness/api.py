"""Routes for face enrolment, one-face-one-owner conflicts and the face scan."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from clearhouse.accounts.dependencies import VerifiedHolderAccount
from clearhouse.accounts.models import STAFF_ROLES, Account, Role
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import (
    CurrentAccount,
    EngineDep,
    HolderAccount,
    ModeratorAccount,
    ReadSessionDep,
    SessionDep,
    require_role,
)
from clearhouse.errors import NotFound, raises
from clearhouse.media import DECODING_ERRORS
from clearhouse.pagination import Page, PageParams, page_params
from clearhouse.uploads import multipart_request_body
from likeness import conflicts, enrolment
from likeness.errors import (
    ConflictAlreadyResolved,
    EnrolmentClosed,
    EnrolmentRejected,
    FaceAlreadyEnrolled,
    FaceIndexUnavailable,
    MediaBusy,
    MediaWorkerLost,
    NotALikeness,
    PartyToConflict,
)
from likeness.models import ConflictStatus, EnrolmentSession, LikenessConflict
from likeness.runtime import LikenessDep
from likeness.scan import scan_media
from likeness.schemas import (
    ConflictPublic,
    ConflictResolution,
    EnrolmentCreate,
    EnrolmentPublic,
    EnrolmentResult,
    ScanResultPublic,
)
from likeness.uploads import MAX_ENROLMENT_UPLOADS, enrolment_uploads, scan_upload
from rights.dependencies import OwnedAssetToChange

router = APIRouter(prefix="/v1", tags=["likeness"])


ScanningAccount = Annotated[Account, Depends(require_role(Role.holder, *STAFF_ROLES))]


def _enrolment_public(row: EnrolmentSession) -> EnrolmentPublic:
    if row.liveness_required:
        instructions = (
            f"Send {len(row.challenge)} photos or one short video, facing the camera alone, "
            f"turning your head: {', then '.join(row.challenge)} (your own left and right). "
            "POST them as `files` to /v1/enrolments/{id}/frames before expires_at."
        )
    else:
        instructions = (
            "Send at least 3 clear photos of your face, alone, as `files` to "
            "/v1/enrolments/{id}/frames before expires_at."
        )
    return EnrolmentPublic.model_validate(
        {
            **row.model_dump(),
            "attempts_left": max(0, enrolment.MAX_FAILED_ATTEMPTS - row.failed_attempts),
            "instructions": instructions.replace("{id}", str(row.id)),
        }
    )


@router.post(
    "/assets/{asset_id}/enrolments",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolmentPublic,
)
@raises(NotALikeness)
@needs_scope(Scope.assets_write)
def open_enrolment(
    likeness: OwnedAssetToChange,
    body: EnrolmentCreate,
    owner: VerifiedHolderAccount,
    session: SessionDep,
    runtime: LikenessDep,
):
    """Start enrolling the face of a likeness asset; the answer carries the liveness challenge."""
    return _enrolment_public(
        enrolment.open_enrolment(
            session, owner=owner, likeness=likeness, keep_media=body.keep_media, runtime=runtime
        )
    )


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentPublic)
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_enrolment(enrolment_id: uuid.UUID, owner: HolderAccount, session: ReadSessionDep):
    return _enrolment_public(
        enrolment.owned_enrolment(session, owner=owner, enrolment_id=enrolment_id)
    )


@router.post(
    "/enrolments/{enrolment_id}/frames",
    response_model=EnrolmentResult,
    openapi_extra=multipart_request_body(
        field="files",
        max_files=MAX_ENROLMENT_UPLOADS,
        description="Photos (JPEG, PNG, WebP) or a video.",
    ),
)
@raises(
    NotFound,
    EnrolmentClosed,
    EnrolmentRejected,
    FaceAlreadyEnrolled,
    *DECODING_ERRORS,
    MediaBusy,
    MediaWorkerLost,
    FaceIndexUnavailable,
)
@needs_scope(Scope.assets_write)
def submit_frames(
    enrolment_id: uuid.UUID,
    uploads: Annotated[list[bytes], Depends(enrolment_uploads)],
    owner: HolderAccount,
    engine: EngineDep,
    runtime: LikenessDep,
):
    """Enrol the face the files show, or say which frame is wrong and why.

    A rejected submission uses up one of the challenge's attempts (`attempts_left`)."""
    outcome = enrolment.submit_frames(
        engine, owner=owner, enrolment_id=enrolment_id, uploads=uploads, runtime=runtime
    )
    return EnrolmentResult(
        enrolment=_enrolment_public(outcome.enrolment),
        templates=outcome.templates,
        conflict_id=outcome.conflict.id if outcome.conflict else None,
    )


def _conflict_public(conflict: LikenessConflict, viewer: Account) -> ConflictPublic:
    base = {
        "id": conflict.id,
        "status": conflict.status,
        "created_at": conflict.created_at,
        "resolved_at": conflict.resolved_at,
        "resolution_note": conflict.resolution_note,
    }
    if viewer.id == conflict.claimant_id:
        return ConflictPublic(
            **base, your_part="claimant", your_likeness_id=conflict.claimant_likeness_id
        )
    if viewer.id == conflict.existing_owner_id:
        return ConflictPublic(
            **base, your_part="existing_owner", your_likeness_id=conflict.existing_likeness_id
        )
    return ConflictPublic(
        **base,
        your_part="moderator",
        your_likeness_id=None,
        similarity=round(conflict.similarity, 4),
        claimant_likeness_id=conflict.claimant_likeness_id,
        existing_likeness_id=conflict.existing_likeness_id,
    )


@router.get("/likeness/conflicts", response_model=Page[ConflictPublic])
@needs_scope(Scope.assets_read)
def list_conflicts(
    viewer: CurrentAccount,
    session: ReadSessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
    status: Annotated[ConflictStatus | None, Query(description="Only in this status.")] = None,
):
    """Moderators: the queue. Holders: the conflicts they are a party to."""
    rows, total = conflicts.visible_conflicts(session, viewer=viewer, status=status, params=paging)
    return Page(
        items=[_conflict_public(c, viewer) for c in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/likeness/conflicts/{conflict_id}", response_model=ConflictPublic)
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_conflict(conflict_id: uuid.UUID, viewer: CurrentAccount, session: ReadSessionDep):
    return _conflict_public(
        conflicts.visible_conflict(session, viewer=viewer, conflict_id=conflict_id), viewer
    )


@router.post("/likeness/conflicts/{conflict_id}/resolve", response_model=ConflictPublic)
@raises(NotFound, ConflictAlreadyResolved, PartyToConflict)
def resolve_conflict(
    conflict_id: uuid.UUID,
    body: ConflictResolution,
    moderator: ModeratorAccount,
    session: SessionDep,
    runtime: LikenessDep,
):
    """Accept (the claimant's enrolment goes ahead) or reject (its templates are destroyed).

    Nobody decides a conflict they are a party to. The decision is written to the audit log."""
    conflict = conflicts.resolve_conflict(
        session,
        moderator=moderator,
        conflict_id=conflict_id,
        accept=body.decision == "accept",
        note=body.note,
        runtime=runtime,
    )
    return _conflict_public(conflict, moderator)


@router.post(
    "/likeness/scan",
    response_model=ScanResultPublic,
    openapi_extra=multipart_request_body(
        field="file", max_files=1, description="An image or a video."
    ),
)
@raises(*DECODING_ERRORS, MediaBusy, MediaWorkerLost, FaceIndexUnavailable)
@needs_scope(Scope.likeness_scan)
def scan(
    data: Annotated[bytes, Depends(scan_upload)],
    caller: ScanningAccount,
    engine: EngineDep,
    runtime: LikenessDep,
):
    """Find every face in an image or video and the registered likenesses it matches.

    Moderators: every likeness a face matches, with its similarity (clearance must find a
    face to deny it, granted or not). Holders: only their own likenesses, with no score
    ("find my face in this video"). Nobody else may scan: finding a person from a photo is
    not for strangers.
    """
    return scan_media(
        engine, data=data, caller=caller, staff=caller.role in STAFF_ROLES, runtime=runtime
    )
