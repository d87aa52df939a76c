"""A holder's assets: the list, registering a character or style, an asset's page, editing
and deleting it, and its reference pictures.

Each page loads the asset with the signed-in holder's id (``rights.repository``), as the API's
routes do, so another holder's asset is a 404 page; each change goes through the service
function behind the matching API route (``rights.service``, ``rights.references.service``).
"""

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from clearhouse.accounts.dependencies import require_verified
from clearhouse.accounts.models import Account
from clearhouse.deps import EngineDep, KeysDep, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import ClearhouseError, NotFound
from clearhouse.media import DECODING_ERRORS, MediaError, MediaTooLarge
from clearhouse.pagination import PageParams
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, field_errors, render, see_other
from clearhouse.portal.policy_words import describe
from clearhouse.portal.sessions import (
    PAGE_NEW_LINK,
    CsrfChecked,
    PortalHolder,
    PortalVerifiedHolder,
    check_csrf,
)
from clearhouse.uploads import UnreadableUpload
from likeness.runtime import LikenessDep, LikenessRuntime
from policies import service as policies
from policies.document import NOBODY, PolicyDocument
from rights import members, repository, service
from rights.authority import Action
from rights.claims.presentation import claim_status_public
from rights.errors import HandleTaken, NotAllowed
from rights.evidence import MAX_DOCUMENT_BYTES
from rights.matching.runtime import MatchingDep
from rights.matching.types import semantic_texts
from rights.models import Asset, AssetKind, MemberRole
from rights.overlaps import service as overlaps
from rights.overlaps.presentation import case_public
from rights.references import service as references
from rights.references.catalogue import ReferenceCatalogueDep
from rights.references.errors import UnusableReferenceImage
from rights.references.service import MAX_REFERENCE_UPLOADS, fingerprint_uploads
from rights.schemas import AssetCreate, AssetUpdate

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: The portal's upload route, for the body size limit (clearhouse/body_limits.py).
UPLOAD_ROUTES = (("POST", "/assets/{asset_id}/references"),)

REGISTRABLE_KINDS = (AssetKind.character, AssetKind.style)

#: The claim form's choices, in words.
EVIDENCE_KINDS = (
    ("trademark_registration", "A trademark registration number"),
    ("copyright_registration", "A copyright registration number"),
    ("link", "A link to a public record (https://)"),
    ("document", "A document: a PDF, PNG or JPEG (a certificate, a contract)"),
)

NOTICES.update(
    {
        "asset-registered": "Registered. Add reference pictures, then set who may use it.",
        "asset-saved": "Your changes are saved.",
        "asset-deleted": "The asset is deleted and every consent to it withdrawn.",
        "references-added": "The pictures are registered: copies of them are now recognised.",
        "reference-removed": "The picture is removed: copies of it are no longer recognised.",
    }
)

Text = Annotated[str, Form(max_length=6000)]


def _lines(text: str) -> list[str]:
    """One entry per line of a text area, blank lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


class AssetFields(BaseModel):
    """What the registration and edit forms both send, as typed."""

    name: str = Field("", max_length=6000)
    handle: str = Field("", max_length=6000)
    aliases: str = Field("", max_length=60_000)
    description: str = Field("", max_length=60_000)
    keywords: str = Field("", max_length=60_000)
    example_prompts: str = Field("", max_length=60_000)

    def as_typed(self, kind: str) -> dict[str, str]:
        """For the form shown again."""
        return {"kind": kind, **self.model_dump()}

    def parsed(self) -> dict:
        """For the API's schema: text trimmed, one list entry per line."""
        return {
            "name": self.name.strip(),
            "handle": self.handle.strip(),
            "aliases": _lines(self.aliases),
            "description": self.description.strip(),
            "keywords": _lines(self.keywords),
            "example_prompts": _lines(self.example_prompts),
        }


AssetForm = Annotated[AssetFields, Form()]


def _texts(matching, data: AssetCreate | AssetUpdate):
    """The asset's texts embedded for the IP text check, before any write transaction
    begins, as the API's routes do."""
    return matching.embed_texts(
        semantic_texts(
            description=data.description,
            example_prompts=data.example_prompts,
            keywords=data.keywords,
        )
    )


def _asset_form(asset: Asset) -> dict[str, str]:
    return {
        "kind": asset.kind.value,
        "name": asset.name,
        "handle": asset.handle,
        "aliases": "\n".join(asset.aliases),
        "description": asset.description,
        "keywords": "\n".join(asset.keywords),
        "example_prompts": "\n".join(asset.example_prompts),
    }


def _list_errors(error: ValidationError) -> dict[str, str]:
    """As :func:`field_errors`, naming the line of a list field that is wrong."""
    messages = field_errors(error)
    for problem in error.errors():
        location = problem["loc"]
        if len(location) == 2 and isinstance(location[1], int):
            field = str(location[0])
            message = problem["msg"].removeprefix("Value error, ")
            messages[field] = f"Line {location[1] + 1}: {message[0].lower()}{message[1:]}"
    return messages


@router.get("/assets")
def asset_list(
    request: Request,
    account: PortalHolder,
    session: ReadSessionDep,
    kind: AssetKind | None = None,
    page: Page = 1,
):
    assets, total = repository.list_owned_assets(
        session, owner_id=account.id, kind=kind, params=page_params(page)
    )
    grants = repository.active_grant_counts(session, asset_ids=[asset.id for asset in assets])
    return render(
        request,
        "assets/list.html",
        account=account,
        title="Your assets",
        assets=assets,
        grants=grants,
        total=total,
        kind=kind,
        kinds=list(AssetKind),
        pager=pager(request, page=page, total=total),
    )


@router.get("/assets/new")
def new_asset_page(request: Request, account: PortalVerifiedHolder, session: ReadSessionDep):
    return _registration_form(request, session, account, form={"kind": "character"}, errors={})


def _registration_form(
    request: Request,
    session: Session,
    account: Account,
    *,
    form: dict,
    errors: dict,
    status_code: int = 200,
):
    return render(
        request,
        "assets/new.html",
        account=account,
        title="Register a character or a style",
        status_code=status_code,
        form=form,
        errors=errors,
        kinds=REGISTRABLE_KINDS,
        organisations=[
            organisation
            for organisation, member in members.my_organisations(session, account=account)
            if member.role in (MemberRole.owner, MemberRole.manager)
        ],
    )


@router.post("/assets/new", dependencies=[CsrfChecked])
def register_asset(
    request: Request,
    account: PortalVerifiedHolder,
    matching: MatchingDep,
    session: SessionDep,
    fields: AssetForm,
    kind: Text = "",
    organisation: Text = "",
):
    form = {**fields.as_typed(kind), "organisation": organisation}
    if kind not in {k.value for k in REGISTRABLE_KINDS}:
        errors = {"kind": "Choose a character or a style. A face is enrolled, not registered."}
        return _registration_form(
            request, session, account, form=form, errors=errors, status_code=400
        )
    try:
        data = AssetCreate(kind=kind, organisation_id=organisation or None, **fields.parsed())
    except ValidationError as invalid:
        errors = _list_errors(invalid)
        return _registration_form(
            request, session, account, form=form, errors=errors, status_code=400
        )
    texts = _texts(matching, data)
    try:
        asset = service.create_asset(
            session, owner=account, data=data, text_vectors=texts, matching=matching
        )
    except HandleTaken as taken:
        session.rollback()
        return _registration_form(
            request, session, account, form=form, errors={"handle": taken.detail}, status_code=409
        )
    except (NotFound, NotAllowed) as refused:
        session.rollback()
        return _registration_form(
            request,
            session,
            account,
            form=form,
            errors={"organisation": refused.detail},
            status_code=refused.status_code,
        )
    return see_other(f"/assets/{asset.id}", notice="asset-registered")


@router.get("/assets/{asset_id}")
def asset_page(
    request: Request, asset_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep
):
    asset = repository.get_owned_asset(
        session, account_id=account.id, asset_id=asset_id, action=Action.view
    )
    return render_asset_page(request, account, session, asset)


def render_asset_page(
    request: Request,
    account: Account,
    session: Session,
    asset: Asset,
    *,
    upload_errors: list[str] = (),
    claim_errors: dict[str, str] | None = None,
    claim_form: dict[str, str] | None = None,
    status_code: int = 200,
):
    """The asset's page; shown again with a refused upload's or claim's errors."""
    current = policies.current_policy(session, asset.id)
    document = PolicyDocument.from_stored(current.document) if current else NOBODY
    grants, _ = repository.grants_with_policies(session, asset_id=asset.id)
    takes_references = asset.kind != AssetKind.likeness
    return render(
        request,
        "assets/detail.html",
        account=account,
        title=asset.name,
        status_code=status_code,
        asset=asset,
        policy_version=current.version if current else 0,
        policy_sentences=describe(document, kind=asset.kind),
        grants=[service.grant_public(grant, policy) for grant, policy in reversed(grants)],
        takes_references=takes_references,
        references=references.list_references(session, asset_id=asset.id)
        if takes_references
        else [],
        reference_limit=request.app.state.settings.reference_images_per_asset,
        max_uploads=MAX_REFERENCE_UPLOADS,
        upload_errors=upload_errors,
        overlaps=_overlap_cases(session, account, asset),
        claim=claim_status_public(session, asset),
        claim_errors=claim_errors or {},
        claim_form=claim_form or {},
        evidence_kinds=EVIDENCE_KINDS,
        max_document_bytes=MAX_DOCUMENT_BYTES,
    )


def _overlap_cases(session: Session, account: Account, asset: Asset) -> list:
    """The overlap cases about this asset, as its owner sees them (newest ten)."""
    rows, _ = overlaps.visible_cases(
        session,
        viewer=account,
        status=None,
        asset_id=asset.id,
        params=PageParams(limit=10, offset=0),
    )
    assets, entries = overlaps.case_parties(session, rows)
    return [
        case_public(case, viewer=account, assets=assets, entries=entries) for case in reversed(rows)
    ]


@router.get("/assets/{asset_id}/edit")
def edit_asset_page(
    request: Request, asset_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep
):
    asset = repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)
    return _edit_form(request, account, asset, form=_asset_form(asset), errors={})


def _edit_form(
    request: Request,
    account: Account,
    asset: Asset,
    *,
    form: dict,
    errors: dict,
    status_code: int = 200,
):
    return render(
        request,
        "assets/edit.html",
        account=account,
        title=f"Edit {asset.name}",
        status_code=status_code,
        asset=asset,
        form=form,
        errors=errors,
    )


@router.post("/assets/{asset_id}/edit", dependencies=[CsrfChecked])
def edit_asset(
    request: Request,
    asset_id: uuid.UUID,
    account: PortalHolder,
    reading: ReadSessionDep,
    matching: MatchingDep,
    session: SessionDep,
    settings: SettingsDep,
    fields: AssetForm,
):
    asset = repository.get_owned_asset(reading, account_id=account.id, asset_id=asset_id)
    form = fields.as_typed(asset.kind.value)
    try:
        changes = AssetUpdate(**fields.parsed())
    except ValidationError as invalid:
        return _edit_form(
            request, account, asset, form=form, errors=_list_errors(invalid), status_code=400
        )
    texts = _texts(matching, changes)
    asset = repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)
    try:
        service.update_asset(
            session,
            owner=account,
            asset=asset,
            changes=changes,
            settings=settings,
            text_vectors=texts,
            matching=matching,
        )
    except HandleTaken as taken:
        session.rollback()
        return _edit_form(
            request, account, asset, form=form, errors={"handle": taken.detail}, status_code=409
        )
    return see_other(f"/assets/{asset.id}", notice="asset-saved")


@router.get("/assets/{asset_id}/delete")
def delete_asset_page(
    request: Request, asset_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep
):
    asset = repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)
    active = repository.active_grant_counts(session, asset_ids=[asset.id]).get(asset.id, 0)
    return render(
        request,
        "assets/delete.html",
        account=account,
        title=f"Delete {asset.name}",
        asset=asset,
        active_grants=active,
    )


@router.post("/assets/{asset_id}/delete", dependencies=[CsrfChecked])
def delete_asset(
    asset_id: uuid.UUID,
    account: PortalHolder,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    likeness: LikenessDep,
):
    asset = repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)
    service.delete_asset(
        session, owner=account, asset=asset, settings=settings, keys=keys, likeness=likeness
    )
    return see_other("/assets", notice="asset-deleted")


async def _reference_files(request: Request) -> list[tuple[str, bytes]]:
    """The chosen pictures of the upload form, as (file name, bytes), with the API's limits:
    at most :data:`MAX_REFERENCE_UPLOADS` files, each within the media size limit, and no
    field but the CSRF token (checked here, on the form parsed with these limits)."""
    max_bytes = request.app.state.settings.scan_max_bytes
    try:
        form = await request.form(max_files=MAX_REFERENCE_UPLOADS, max_fields=1)
    except HTTPException as error:
        raise UnreadableUpload(
            f"{error.detail} Choose at most {MAX_REFERENCE_UPLOADS} pictures at a time."
        ) from error
    await check_csrf(request)  # reads the form parsed above
    files = []
    for upload in form.getlist("files"):
        if not isinstance(upload, UploadFile):
            raise UnreadableUpload("Send each picture as a file.")
        if not upload.filename:
            continue  # the file field left empty
        data = await upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise MediaTooLarge(
                f"{upload.filename} is larger than {max_bytes:,} bytes; choose a smaller file."
            )
        files.append((upload.filename, data))
    return files


ReferenceFiles = Annotated[list[tuple[str, bytes]], Depends(_reference_files)]


def _asset_to_upload_to(
    asset_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep
) -> Asset:
    """The holder's asset, looked up before the upload's files are read."""
    return repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)


_UPLOAD_REFUSALS = (*DECODING_ERRORS, UnusableReferenceImage, MediaError)


@router.post("/assets/{asset_id}/references")
def add_reference_images(
    request: Request,
    account: PortalHolder,
    asset: Annotated[Asset, Depends(_asset_to_upload_to)],
    files: ReferenceFiles,
    session: ReadSessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    likeness: LikenessDep,
    catalogue: ReferenceCatalogueDep,
):

    def refused(problems: list[str]):
        return render_asset_page(
            request, account, session, asset, upload_errors=problems, status_code=400
        )

    if not files:
        return refused(["Choose at least one picture (JPEG, PNG or WebP)."])
    try:
        require_verified(account, new_link=PAGE_NEW_LINK)
        references.check_takes_references(asset)
        references.check_room(
            held=references.count_references(session, asset_id=asset.id),
            adding=len(files),
            limit=settings.reference_images_per_asset,
        )
    except ClearhouseError as error:
        return refused([error.detail])
    session.close()  # decoding takes a while: no transaction stays open meanwhile
    try:
        references.add_references(
            engine,
            owner=account,
            asset_id=asset.id,
            uploads=[data for _, data in files],
            limit=settings.reference_images_per_asset,
            runtime=likeness,
            catalogue=catalogue,
        )
    except _UPLOAD_REFUSALS:
        return refused(_each_file_problem(files, likeness))
    except ClearhouseError as error:  # a duplicate, or the limit reached meanwhile
        return refused([error.detail])
    return see_other(f"/assets/{asset.id}", notice="references-added")


def _each_file_problem(files: list[tuple[str, bytes]], likeness: LikenessRuntime) -> list[str]:
    """What is wrong with each refused picture, by its name: the service stops at the first
    problem, so after a refusal each file is checked on its own (nothing is stored)."""
    problems = []
    for name, data in files:
        try:
            likeness.run_media_work(
                partial(fingerprint_uploads, [data], limits=likeness.media_limits)
            )
        except _UPLOAD_REFUSALS as error:
            problems.append(f"{name}: {error.detail.removeprefix('file 1: ')}")
    return problems or ["The pictures could not be read together; send them one at a time."]


@router.post("/assets/{asset_id}/references/{reference_id}/delete", dependencies=[CsrfChecked])
def remove_reference_image(
    asset_id: uuid.UUID,
    reference_id: uuid.UUID,
    account: PortalHolder,
    session: SessionDep,
    catalogue: ReferenceCatalogueDep,
):
    asset = repository.get_owned_asset(session, account_id=account.id, asset_id=asset_id)
    references.delete_reference(
        session, owner=account, asset=asset, reference_id=reference_id, catalogue=catalogue
    )
    return see_other(f"/assets/{asset.id}", notice="reference-removed")
