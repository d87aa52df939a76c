"""The face scan: media in, every face found and the registered likenesses it may name.

Finding a person from a photo is for staff and for owners about themselves: moderators see
every likeness a face matches with its similarity; an owner sees only their own likenesses,
with no score ("find my face in this video"); nobody else may scan. A face that matches
someone else's likeness looks, to an owner, like any unregistered face.

Decoding and the face model run in a media worker process (likeness.scan_detection), outside
any database transaction; the index lookup reads in a short read transaction. Then, in a
short transaction of its own, an owner's scan records their activity (which keeps their
templates from the retention rule), and a staff scan is written to the audit log, in the
history of every likeness it found.

The index is a cache of the vault; every match is checked against the database (a live
likeness asset) and the key store (its data key still exists), so a likeness deleted or
shredded by another process is never reported, even before this process's index hears of it.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import read_session, write_session
from likeness import vault
from likeness.key_store import LikenessKeyStore
from likeness.media_workers import FaceModel
from likeness.runtime import LikenessRuntime
from likeness.scan_detection import detect_faces
from rights.models import Asset


@dataclass(frozen=True)
class LikenessMatch:
    asset_id: uuid.UUID
    handle: str
    similarity: float | None  # staff only


@dataclass(frozen=True)
class ScannedFace:
    frame: int
    timestamp_s: float
    box: tuple[int, int, int, int]
    matches: list[LikenessMatch]


@dataclass(frozen=True)
class ScanResult:
    frames_scanned: int
    model_key: str
    threshold: float
    faces: list[ScannedFace]


def scan_media(
    engine: Engine, *, data: bytes, caller: Account, staff: bool, runtime: LikenessRuntime
) -> ScanResult:
    """Scan as ``caller``: every registered likeness if ``staff``, else only the caller's own."""
    detected = runtime.run_media_work(
        partial(
            detect_faces,
            data,
            limits=runtime.media_limits,
            sample_fps=runtime.settings.scan_sample_fps,
            threshold=runtime.settings.face_match_threshold,
        )
    )
    model = detected.model
    with read_session(engine) as session:
        found = find_likenesses(
            session,
            runtime=runtime,
            model=model,
            embeddings=[face.embedding for face in detected.faces],
            owner_id=None if staff else caller.id,
        )
    visible = sorted({match.asset_id for matches in found for match in matches})
    if staff:
        with write_session(engine) as session:
            _record_staff_lookup(session, caller=caller, faces=len(detected.faces), matched=visible)
    elif visible:
        # The owner's own use of their likeness: it counts as activity for retention.
        with write_session(engine) as session:
            vault.record_activity(session, likeness_ids=visible)
    faces = [
        ScannedFace(
            frame=face.frame,
            timestamp_s=face.timestamp_s,
            box=face.box,
            matches=[
                LikenessMatch(
                    asset_id=match.asset_id,
                    handle=match.handle,
                    similarity=match.similarity if staff else None,
                )
                for match in matches
            ],
        )
        for face, matches in zip(detected.faces, found, strict=True)
    ]
    return ScanResult(
        frames_scanned=detected.frames_scanned,
        model_key=model.model_key,
        threshold=model.match_threshold,
        faces=faces,
    )


def find_likenesses(
    session: Session,
    *,
    runtime: LikenessRuntime,
    model: FaceModel,
    embeddings: Sequence[np.ndarray],
    owner_id: uuid.UUID | None,
) -> list[list[LikenessMatch]]:
    """For each face embedding, the live, unshredded likenesses it matches, best first, with
    their similarity: only ``owner_id``'s, or every owner's when it is None.

    Looking a face up among every owner's likenesses is for staff and for clearance, which
    must find a face to deny it; neither hands the answer to a stranger as it is."""
    if not embeddings:
        return []
    runtime.refresh(session)
    results = runtime.index.search(
        model_key=model.model_key,
        queries=np.stack(embeddings),
        k=5,
        min_similarity=model.match_threshold,
    )
    visible = _live_likenesses(
        session,
        list({match.likeness_id for matches in results for match in matches}),
        key_store=runtime.key_store,
        owner_id=owner_id,
    )
    return [
        [
            LikenessMatch(
                asset_id=match.likeness_id,
                handle=visible[match.likeness_id],
                similarity=round(match.similarity, 4),
            )
            for match in matches
            if match.likeness_id in visible
        ]
        for matches in results
    ]


def _record_staff_lookup(
    session: Session, *, caller: Account, faces: int, matched: list[uuid.UUID]
) -> None:
    """Staff looking a face up is written to the audit log: once for the scan, and once in
    the history of every likeness it found, so that its owner sees who looked them up."""
    record_event(
        session,
        action="likeness.staff_scan",
        actor_id=caller.id,
        asset_id=None,
        details={"faces": faces, "likenesses_found": sorted(str(i) for i in matched)},
    )
    for likeness_id in sorted(matched):
        record_event(
            session,
            action="likeness.found_by_staff_scan",
            actor_id=caller.id,
            asset_id=likeness_id,
            details={},
        )


def _live_likenesses(
    session: Session,
    likeness_ids: list[uuid.UUID],
    *,
    key_store: LikenessKeyStore,
    owner_id: uuid.UUID | None,
) -> dict[uuid.UUID, str]:
    """Handles of the live, unshredded likenesses among these (only ``owner_id``'s if set)."""
    keyed = vault.likenesses_with_keys(likeness_ids, key_store=key_store)
    if not keyed:
        return {}
    query = select(Asset.id, Asset.handle).where(
        col(Asset.id).in_(keyed), Asset.deleted_at.is_(None)
    )
    if owner_id is not None:
        query = query.where(Asset.owner_id == owner_id)
    return dict(session.exec(query).all())
