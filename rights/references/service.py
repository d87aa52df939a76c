"""Adding, listing and removing the reference pictures of a character or style.

An upload is decoded and fingerprinted (and embedded, with a CLIP model configured) in a
media worker, outside any transaction (a fingerprint takes about 0.1 s of CPU); then one
short write transaction re-reads the asset, takes the catalogue's change lock (it orders
concurrent changes, so the count limit, the duplicate check and the overlap check with other
holders' pictures see every committed reference), takes the next generation and stores the
rows.
"""

import hashlib
import uuid
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func
from sqlmodel import Session, col, delete, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import write_session
from clearhouse.errors import NotFound
from clearhouse.media import (
    MediaError,
    MediaLimits,
    PixelBudget,
    UnsupportedMedia,
    decode_image,
    sniff_media_kind,
)
from likeness.runtime import LikenessRuntime
from rights import repository
from rights.matching import store as text_catalogue
from rights.matching.clip_embeddings import (
    ClipEmbeddings,
    clip_encoder,
    embed_pictures,
    embedding_bytes,
)
from rights.matching.image_fingerprints import (
    FINGERPRINT_VERSION,
    HASHED_SIDE,
    UnusablePicture,
    fingerprint_bytes,
    reference_fingerprint,
)
from rights.matching.images import ImageMatch, IndexedReference
from rights.models import Asset, AssetKind
from rights.overlaps.cases import open_cases, overlaps_of
from rights.references.catalogue import ReferenceCatalogue, advance_generation, lock_changes
from rights.references.errors import (
    NotACharacterOrStyle,
    ReferenceImageExists,
    TooManyReferenceImages,
    UnusableReferenceImage,
)
from rights.references.models import ReferenceImage, ReferenceImageRemoval

#: Files one upload request may carry.
MAX_REFERENCE_UPLOADS = 5


@dataclass(frozen=True)
class FingerprintedUpload:
    sha256: str
    byte_size: int
    fingerprint: np.ndarray
    embedding: np.ndarray | None = None  # by `embedding_model`, with a CLIP model configured
    embedding_model: str | None = None


def fingerprint_uploads(
    uploads: list[bytes], *, limits: MediaLimits, clip_model_dir: Path | None = None
) -> list[FingerprintedUpload]:
    """Decode each uploaded picture (one pixel budget for the request) and fingerprint it,
    and embed it with the CLIP model of ``clip_model_dir``; errors name the file. Runs as
    media work (likeness.runtime.run_media_work)."""
    budget = PixelBudget(limits)
    fingerprinted = []
    for position, data in enumerate(uploads, start=1):
        try:
            if sniff_media_kind(data) == "video":
                raise UnsupportedMedia(
                    "it is a video; a reference is one picture: send JPEG, PNG or WebP images"
                )
            # Decoded straight to the size the hashes read (a JPEG from its DCT at 1/8).
            frame = decode_image(data, limits=replace(limits, max_side=HASHED_SIDE), budget=budget)
            fingerprint = reference_fingerprint(frame.rgb)
            embedded = None
            if clip_model_dir is not None:
                embedded = embed_pictures(
                    clip_encoder(clip_model_dir), [data], limits=limits, budget=budget
                )
        except MediaError as error:
            raise type(error)(f"file {position}: {error.detail}") from error
        except UnusablePicture as error:
            raise UnusableReferenceImage(f"file {position}: {error}") from error
        fingerprinted.append(
            FingerprintedUpload(
                sha256=hashlib.sha256(data).hexdigest(),
                byte_size=len(data),
                fingerprint=fingerprint,
                embedding=None if embedded is None else embedded.vectors[0],
                embedding_model=None if embedded is None else embedded.model_key,
            )
        )
    return fingerprinted


def check_takes_references(asset: Asset) -> None:
    if asset.kind == AssetKind.likeness:
        raise NotACharacterOrStyle(
            "A likeness is recognised by its face: enrol it (POST /v1/assets/{id}/enrolments). "
            "Reference pictures are for characters and styles.".replace("{id}", str(asset.id))
        )


def count_references(session: Session, *, asset_id: uuid.UUID) -> int:
    return session.exec(
        select(func.count()).select_from(ReferenceImage).where(ReferenceImage.asset_id == asset_id)
    ).one()


def check_room(*, held: int, adding: int, limit: int) -> None:
    if held + adding > limit:
        raise TooManyReferenceImages(
            f"This asset holds {held} reference pictures and may hold {limit}; "
            f"{adding} more would pass that. Delete one "
            "(DELETE /v1/assets/{id}/references/{reference_id}) or send fewer."
        )


def add_references(
    engine: Engine,
    *,
    owner: Account,
    asset_id: uuid.UUID,
    uploads: list[bytes],
    limit: int,
    runtime: LikenessRuntime,
    catalogue: ReferenceCatalogue,
) -> list[ReferenceImage]:
    """Register the uploaded pictures for one of the owner's characters or styles."""
    clip = catalogue.clip
    fingerprinted = runtime.run_media_work(
        partial(
            fingerprint_uploads,
            uploads,
            limits=runtime.media_limits,
            clip_model_dir=None if clip is None else clip.model_dir,
        )
    )
    with write_session(engine) as session:
        asset = repository.get_owned_asset(session, account_id=owner.id, asset_id=asset_id)
        # Uploads are checked one after the other, each seeing the pictures committed before
        # it: two holders' matching pictures at once must not both pass the overlap check.
        lock_changes(session)
        # Before this change takes its number, the index is brought up to date.
        catalogue.refresh(session, read_counter=True)
        same_pictures = catalogue.search(
            session,
            np.stack([upload.fingerprint[0] for upload in fingerprinted]),
            embeddings=_embeddings(fingerprinted),
        )
        generation = advance_generation(session)
        check_room(
            held=count_references(session, asset_id=asset.id),
            adding=len(fingerprinted),
            limit=limit,
        )
        _check_new(session, asset_id=asset.id, uploads=fingerprinted)
        rows = [
            ReferenceImage(
                asset_id=asset.id,
                sha256=upload.sha256,
                byte_size=upload.byte_size,
                fingerprint_version=FINGERPRINT_VERSION,
                fingerprint=fingerprint_bytes(upload.fingerprint),
                embedding_model=upload.embedding_model,
                embedding=None if upload.embedding is None else embedding_bytes(upload.embedding),
                generation=generation,
            )
            for upload in fingerprinted
        ]
        session.add_all(rows)
        session.flush()
        for row in rows:
            record_event(
                session,
                action="reference_image.added",
                actor_id=owner.id,
                asset_id=asset.id,
                details={"reference_id": str(row.id), "sha256": row.sha256},
            )
        _open_overlap_cases(session, asset=asset, matches=same_pictures, actor_id=owner.id)
        catalogue.apply_on_commit(
            session,
            generation=generation,
            added=[
                IndexedReference(
                    reference_id=row.id,
                    asset_id=asset.id,
                    fingerprint=upload.fingerprint,
                    # As the catalogue loads it: the configured model's, or none.
                    embedding=upload.embedding
                    if clip is not None and upload.embedding_model == clip.model_key
                    else None,
                )
                for row, upload in zip(rows, fingerprinted, strict=True)
            ],
        )
    return rows


def _embeddings(uploads: list[FingerprintedUpload]) -> ClipEmbeddings | None:
    """The uploads' embeddings (all embedded or none), to look them up as input pictures."""
    model_key = uploads[0].embedding_model
    if model_key is None:
        return None
    return ClipEmbeddings(model_key, np.stack([upload.embedding for upload in uploads]))


def _open_overlap_cases(
    session: Session, *, asset: Asset, matches: list[ImageMatch], actor_id: uuid.UUID
) -> None:
    """A picture that matches another holder's reference (the "whole" view of each upload,
    as an input picture is looked up) puts the asset in review (rights/overlaps/)."""
    evidence: dict[uuid.UUID, list[dict]] = {}
    for match in matches:
        if match.asset_id != asset.id:
            evidence.setdefault(match.asset_id, []).append(
                {
                    "kind": "reference_image",
                    "file": match.input_index + 1,
                    "reference_id": str(match.reference_id),
                    "method": match.method,
                    "score": round(match.score, 4),
                }
            )
    overlaps = overlaps_of(session, asset=asset, evidence=evidence)
    if open_cases(session, asset=asset, overlaps=overlaps, actor_id=actor_id):
        text_catalogue.stamp_change(session, asset)  # no longer matched by its names


def _check_new(
    session: Session, *, asset_id: uuid.UUID, uploads: list[FingerprintedUpload]
) -> None:
    seen: dict[str, int] = {}
    for position, upload in enumerate(uploads, start=1):
        if upload.sha256 in seen:
            raise ReferenceImageExists(
                f"files {seen[upload.sha256]} and {position} are the same file; send it once."
            )
        seen[upload.sha256] = position
    existing = session.exec(
        select(ReferenceImage.id, ReferenceImage.sha256).where(
            ReferenceImage.asset_id == asset_id, col(ReferenceImage.sha256).in_(list(seen))
        )
    ).first()
    if existing is not None:
        reference_id, sha256 = existing
        raise ReferenceImageExists(
            f"file {seen[sha256]} is already registered for this asset as reference "
            f"{reference_id}; nothing was added."
        )


def list_references(session: Session, *, asset_id: uuid.UUID) -> list[ReferenceImage]:
    return list(
        session.exec(
            select(ReferenceImage)
            .where(ReferenceImage.asset_id == asset_id)
            .order_by(ReferenceImage.created_at, ReferenceImage.id)
        ).all()
    )


def delete_reference(
    session: Session,
    *,
    owner: Account,
    asset: Asset,
    reference_id: uuid.UUID,
    catalogue: ReferenceCatalogue,
) -> None:
    """Remove one reference picture of the owner's asset; every process stops matching it."""
    row = session.exec(
        select(ReferenceImage).where(
            ReferenceImage.id == reference_id, ReferenceImage.asset_id == asset.id
        )
    ).first()
    if row is None:
        raise NotFound("No reference picture with this id on this asset.")
    generation = _remove(session, reference_ids=[row.id])
    record_event(
        session,
        action="reference_image.removed",
        actor_id=owner.id,
        asset_id=asset.id,
        details={"reference_id": str(row.id), "sha256": row.sha256},
    )
    catalogue.apply_on_commit(session, generation=generation, removed=[row.id])


def forget_asset_references(session: Session, *, asset_id: uuid.UUID) -> None:
    """Remove every reference picture of a deleted asset (its deletion is audited already).
    Each process's index drops them at its next refresh."""
    reference_ids = list(
        session.exec(select(ReferenceImage.id).where(ReferenceImage.asset_id == asset_id)).all()
    )
    if reference_ids:
        _remove(session, reference_ids=reference_ids)


def _remove(session: Session, *, reference_ids: list[uuid.UUID]) -> int:
    generation = advance_generation(session)
    session.exec(delete(ReferenceImage).where(col(ReferenceImage.id).in_(reference_ids)))
    session.add_all(
        ReferenceImageRemoval(generation=generation, reference_id=reference_id)
        for reference_id in reference_ids
    )
    session.flush()
    return generation
