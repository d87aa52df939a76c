"""Routes of reference pictures: an owner registers, lists and removes the pictures of a
character or style that the IP image check compares input pictures with."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from clearhouse.accounts.dependencies import VerifiedHolderAccount
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import EngineDep, HolderAccount, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import NotFound, raises
from clearhouse.media import DECODING_ERRORS, MediaTooLarge
from clearhouse.uploads import UnreadableUpload, multipart_request_body, read_uploads
from likeness.errors import MediaBusy
from likeness.runtime import LikenessDep
from rights.dependencies import OwnedAsset, OwnedAssetToChange
from rights.references import service
from rights.references.catalogue import ReferenceCatalogueDep
from rights.references.errors import (
    NotACharacterOrStyle,
    ReferenceImageExists,
    TooManyReferenceImages,
    UnusableReferenceImage,
)
from rights.references.schemas import ReferenceImagePublic
from rights.references.service import MAX_REFERENCE_UPLOADS

router = APIRouter(prefix="/v1", tags=["references"])

#: The route whose body is media, for the body size limit: (method, path template).
UPLOAD_ROUTES = (("POST", "/v1/assets/{asset_id}/references"),)


@raises(UnreadableUpload, MediaTooLarge)
async def reference_uploads(request: Request) -> list[bytes]:
    """The pictures of one upload: 1 to 5 files named ``files``."""
    return await read_uploads(
        request,
        field="files",
        max_files=MAX_REFERENCE_UPLOADS,
        expected=f"Send 1 to {MAX_REFERENCE_UPLOADS} pictures as `files`",
    )


@router.post(
    "/assets/{asset_id}/references",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ReferenceImagePublic],
    openapi_extra=multipart_request_body(
        field="files",
        max_files=MAX_REFERENCE_UPLOADS,
        description="Pictures (JPEG, PNG, WebP) of the character or in the style.",
    ),
)
@raises(
    NotACharacterOrStyle,
    TooManyReferenceImages,
    ReferenceImageExists,
    UnusableReferenceImage,
    *DECODING_ERRORS,
    MediaBusy,
)
@needs_scope(Scope.assets_write)
def add_reference_images(
    owner: VerifiedHolderAccount,
    asset: OwnedAsset,
    uploads: Annotated[list[bytes], Depends(reference_uploads)],
    session: ReadSessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    likeness: LikenessDep,
    catalogue: ReferenceCatalogueDep,
):
    """Register pictures of a character or style: input pictures that copy one (cropped,
    recoloured, re-encoded, mirrored) are found as this asset. Only a fingerprint of each
    picture is kept, never the picture; the same file twice is refused."""
    service.check_takes_references(asset)
    service.check_room(
        held=service.count_references(session, asset_id=asset.id),
        adding=len(uploads),
        limit=settings.reference_images_per_asset,
    )
    session.close()  # decoding takes a while: no transaction stays open meanwhile
    return service.add_references(
        engine,
        owner=owner,
        asset_id=asset.id,
        uploads=uploads,
        limit=settings.reference_images_per_asset,
        runtime=likeness,
        catalogue=catalogue,
    )


@router.get("/assets/{asset_id}/references", response_model=list[ReferenceImagePublic])
@needs_scope(Scope.assets_read)
def list_reference_images(asset: OwnedAsset, session: ReadSessionDep):
    """The asset's reference pictures, oldest first (at most
    `CLEARHOUSE_REFERENCE_IMAGES_PER_ASSET`)."""
    return service.list_references(session, asset_id=asset.id)


@router.delete(
    "/assets/{asset_id}/references/{reference_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
@raises(NotFound)
@needs_scope(Scope.assets_write)
def delete_reference_image(
    asset: OwnedAssetToChange,
    reference_id: uuid.UUID,
    owner: HolderAccount,
    session: SessionDep,
    catalogue: ReferenceCatalogueDep,
) -> None:
    """Stop matching input pictures against this picture; every API process stops at its
    next match."""
    service.delete_reference(
        session, owner=owner, asset=asset, reference_id=reference_id, catalogue=catalogue
    )
