"""The face scan: media in, every face found and the registered likenesses it matches.

The index is a cache of the vault; every match is checked against the database (a live
likeness asset whose data key still exists), so a likeness deleted or shredded by another
process is never reported, even before this process's index hears of it.
"""

import uuid
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from likeness import vault
from likeness.backends.base import DetectedFace
from likeness.media import Frame, decode_media
from likeness.runtime import LikenessRuntime
from rights.models import Asset


@dataclass(frozen=True)
class LikenessMatch:
    asset_id: uuid.UUID
    handle: str
    similarity: float


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


def scan_media(session: Session, *, data: bytes, runtime: LikenessRuntime) -> ScanResult:
    def decode_and_detect() -> tuple[list[Frame], list[list[DetectedFace]]]:
        frames = decode_media(
            data, limits=runtime.media_limits, sample_fps=runtime.settings.scan_sample_fps
        )
        return frames, runtime.detect_and_embed([frame.rgb for frame in frames])

    frames, detections = runtime.run_media_work(decode_and_detect)
    runtime.refresh(session)
    found = [
        (frame, face) for frame, faces in zip(frames, detections, strict=True) for face in faces
    ]
    model_key, threshold = runtime.backend.model_key, runtime.match_threshold
    results = (
        runtime.index.search(
            model_key=model_key,
            queries=np.stack([face.embedding for _, face in found]),
            k=5,
            min_similarity=threshold,
        )
        if found
        else []
    )
    matched_ids = list({m.likeness_id for matches in results for m in matches})
    live = _live_likenesses(session, matched_ids)
    vault.record_activity(session, likeness_ids=list(live))
    faces = [
        ScannedFace(
            frame=frame.index,
            timestamp_s=frame.timestamp_s,
            box=frame.source_box(face.box),
            matches=[
                LikenessMatch(
                    asset_id=m.likeness_id,
                    handle=live[m.likeness_id],
                    similarity=round(m.similarity, 4),
                )
                for m in matches
                if m.likeness_id in live
            ],
        )
        for (frame, face), matches in zip(found, results, strict=True)
    ]
    return ScanResult(
        frames_scanned=len(frames), model_key=model_key, threshold=threshold, faces=faces
    )


def _live_likenesses(session: Session, likeness_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    keyed = vault.likenesses_with_keys(session, likeness_ids)
    if not keyed:
        return {}
    rows = session.exec(
        select(Asset.id, Asset.handle).where(col(Asset.id).in_(keyed), Asset.deleted_at.is_(None))
    )
    return dict(rows.all())
