"""Enrolling a face: register a likeness (or pick one), read the liveness challenge, send a
video or photos, and see the face enrolled or each fault of the frames.

The same service calls as the API's routes (likeness/api.py): ``enrolment.open_enrolment``
and ``enrolment.submit_frames``, the latter with the engine, so that no transaction is open
while media is decoded and faces are embedded. Only a verified holder may start one, as on
the API; a minor may enrol, and the page says how their face is protected.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from clearhouse.accounts.errors import EmailNotVerified
from clearhouse.accounts.models import ADULT_AGE, Account, is_minor
from clearhouse.db import read_session, utcnow
from clearhouse.deps import EngineDep, ReadSessionDep, SessionDep
from clearhouse.errors import raises
from clearhouse.media import DECODING_ERRORS, MediaTooLarge
from clearhouse.pagination import PageParams
from clearhouse.portal.enrolment_report import enrolment_refusal
from clearhouse.portal.pages import NOTICES, PageRoute, field_errors, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalHolder, check_csrf
from clearhouse.uploads import UnreadableUpload
from likeness import enrolment
from likeness.errors import EnrolmentRejected, FaceAlreadyEnrolled
from likeness.models import EnrolmentSession, EnrolmentStatus
from likeness.runtime import LikenessDep
from likeness.uploads import MAX_ENROLMENT_UPLOADS
from rights import repository, service
from rights.authority import Action
from rights.errors import HandleTaken
from rights.matching.runtime import MatchingDep
from rights.models import Asset, AssetKind
from rights.schemas import AssetCreate

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: For the request body limit (clearhouse/app.py): the page's upload takes media, as the API's.
UPLOAD_ROUTES = (("POST", "/enrol/{enrolment_id}/frames"),)

NOTICES.update(
    {
        "face-enrolled": "Your face is enrolled. Nobody may use it until you grant a policy.",
        "face-held": "Your video was accepted, but this face is enrolled under another account: "
        "a moderator will decide.",
    }
)

# Each pose of a challenge, as the person in front of the camera hears it.
POSE_WORDS = {
    "frontal": "Look straight into the camera.",
    "left": "Turn your head slowly to your own left.",
    "right": "Turn your head slowly to your own right.",
    "up": "Tilt your head up, as if looking at the top of a door.",
    "down": "Tilt your head down, as if looking at your desk.",
}
RECENT_ENROLMENTS = 10
LIKENESSES_SHOWN = PageParams(limit=50, offset=0)

Text = Annotated[str, Form(max_length=400)]


def _check_may_enrol(account: Account) -> None:
    """The API's rule (accounts/dependencies.VerifiedHolderAccount), in the page's words."""
    if account.email_verified_at is None:
        raise EmailNotVerified(
            f"Verify your email address before you enrol a face: follow the link we sent to "
            f"{account.email}, or ask for a new one from the banner above. Nothing was stored."
        )


def _start_page(
    request: Request, session: Session, account: Account, *, status_code: int = 200, **context
):
    return render(
        request,
        "enrol/start.html",
        account=account,
        title="Enrol your face",
        status_code=status_code,
        verified=account.email_verified_at is not None,
        minor=is_minor(account.date_of_birth, utcnow().date()),
        adult_age=ADULT_AGE,
        likenesses=repository.list_owned_assets(
            session,
            owner_id=account.id,
            kind=AssetKind.likeness,
            params=LIKENESSES_SHOWN,
            action=Action.administer,  # one's own face: not a principal's, as an agent
        )[0],
        enrolled=enrolment.enrolled_likeness_ids(session, owner_id=account.id),
        enrolments=enrolment.recent_enrolments(
            session, owner_id=account.id, limit=RECENT_ENROLMENTS
        ),
        **{"form": {}, "errors": {}, **context},
    )


@router.get("/enrol")
def start_page(request: Request, account: PortalHolder, session: ReadSessionDep):
    return _start_page(request, session, account)


@router.post("/enrol", dependencies=[CsrfChecked])
def start_with_new_likeness(
    request: Request,
    account: PortalHolder,
    session: SessionDep,
    runtime: LikenessDep,
    matching: MatchingDep,
    name: Text = "",
    handle: Text = "",
    keep_media: Annotated[bool, Form()] = False,
):
    """Register a likeness and open its enrolment, in one transaction."""
    _check_may_enrol(account)
    form = {"name": name, "handle": handle, "keep_media": keep_media}
    try:
        data = AssetCreate(kind=AssetKind.likeness, name=name, handle=handle)
    except ValidationError as invalid:
        return _start_page(
            request, session, account, form=form, errors=field_errors(invalid), status_code=400
        )
    try:
        # No description, keywords or example prompts: no text of it to embed (text_vectors).
        likeness = service.create_asset(
            session, owner=account, data=data, text_vectors=None, matching=matching
        )
    except HandleTaken as taken:
        session.rollback()  # the asset was never written; nothing of it is kept
        return _start_page(
            request, session, account, form=form, errors={"handle": taken.detail}, status_code=409
        )
    opened = enrolment.open_enrolment(
        session, owner=account, likeness=likeness, keep_media=keep_media, runtime=runtime
    )
    return see_other(f"/enrol/{opened.id}")


@router.post("/enrol/likeness/{asset_id}", dependencies=[CsrfChecked])
def start_with_likeness(
    asset_id: uuid.UUID,
    account: PortalHolder,
    session: SessionDep,
    runtime: LikenessDep,
    keep_media: Annotated[bool, Form()] = False,
):
    """A new enrolment (a fresh challenge) of a likeness the holder registered already."""
    _check_may_enrol(account)
    likeness = repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)
    opened = enrolment.open_enrolment(
        session, owner=account, likeness=likeness, keep_media=keep_media, runtime=runtime
    )
    return see_other(f"/enrol/{opened.id}")


def _challenge_page(
    request: Request,
    account: Account,
    enrolling: EnrolmentSession,
    likeness: Asset,
    *,
    status_code: int = 200,
    **context,
):
    now = utcnow()
    return render(
        request,
        "enrol/challenge.html",
        account=account,
        title=f"Enrol @{likeness.handle}",
        status_code=status_code,
        enrolment=enrolling,
        likeness=likeness,
        steps=[POSE_WORDS[pose] for pose in enrolling.challenge],
        open=enrolling.status == EnrolmentStatus.open and enrolling.expires_at > now,
        minutes_left=max(0, int((enrolling.expires_at - now).total_seconds() // 60)),
        attempts_left=max(0, enrolment.MAX_FAILED_ATTEMPTS - enrolling.failed_attempts),
        max_files=MAX_ENROLMENT_UPLOADS,
        **{"refusal": None, "problem": None, **context},
    )


def _owned(
    session: Session, account: Account, enrolment_id: uuid.UUID
) -> tuple[EnrolmentSession, Asset]:
    enrolling = enrolment.owned_enrolment(session, owner=account, enrolment_id=enrolment_id)
    likeness = repository.get_owned_asset(
        session, account_id=account.id, asset_id=enrolling.likeness_id, include_deleted=True
    )
    return enrolling, likeness


@router.get("/enrol/{enrolment_id}")
def challenge_page(
    request: Request, enrolment_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep
):
    return _challenge_page(request, account, *_owned(session, account, enrolment_id))


@raises(UnreadableUpload, MediaTooLarge)
async def _enrolment_files(request: Request) -> list[bytes]:
    """The form's files, read under the API route's limits, once its CSRF token is checked.

    The form is parsed here first, with the limits of likeness/uploads.py (twelve files; one
    field, the token), so the CSRF check that follows reads this parse rather than an
    unlimited one: that is why this route has no ``CsrfChecked`` of its own.
    """
    max_bytes = request.app.state.settings.scan_max_bytes
    try:
        form = await request.form(max_files=MAX_ENROLMENT_UPLOADS, max_fields=1)
    except HTTPException as error:  # Starlette's refusal while parsing
        raise UnreadableUpload(
            f"{error.detail} Send 1 to {MAX_ENROLMENT_UPLOADS} photos or one video."
        ) from error
    await check_csrf(request)
    uploads = []
    for part in form.getlist("files"):
        if not isinstance(part, UploadFile) or not part.filename:
            continue  # a file input left empty sends an empty part with no name
        data = await part.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise MediaTooLarge(f"{part.filename} is larger than {max_bytes} bytes.")
        uploads.append(data)
    return uploads


@router.post("/enrol/{enrolment_id}/frames")
def submit_frames(
    request: Request,
    enrolment_id: uuid.UUID,
    uploads: Annotated[list[bytes], Depends(_enrolment_files)],
    account: PortalHolder,
    reads: ReadSessionDep,
    engine: EngineDep,
    runtime: LikenessDep,
):
    """Enrol the face the files show, or show which frame is wrong and why."""
    reads.close()  # the sign-in's read ends here: nothing stays open through the media work
    problem = refusal = None
    if not uploads:
        problem = "Choose a video or at least three photos of your face to send."
    else:
        try:
            outcome = enrolment.submit_frames(
                engine, owner=account, enrolment_id=enrolment_id, uploads=uploads, runtime=runtime
            )
        except EnrolmentRejected as rejected:
            refusal = enrolment_refusal(rejected.detail)
        except (FaceAlreadyEnrolled, *DECODING_ERRORS) as refused:
            problem = refused.detail
        else:
            held = outcome.conflict is not None
            return see_other(
                f"/enrol/{enrolment_id}", notice="face-held" if held else "face-enrolled"
            )
    with read_session(engine) as session:  # attempts_left as the refusal left it
        enrolling, likeness = _owned(session, account, enrolment_id)
    return _challenge_page(
        request, account, enrolling, likeness, status_code=400, refusal=refusal, problem=problem
    )
