"""The media work of a clearance, run in a media worker: a request's files in, what the
checks search for out, no pixels.

Each file is decoded once (one pixel budget for the request); every sampled frame gives
its faces (boxes and embeddings, for the likeness index) and its perceptual fingerprint
(for the reference pictures of characters and styles), and its CLIP embedding when a CLIP
model is configured. The searches run in the API process
(licensing/media_touches.py). This module imports no database code: workers stay small.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clearhouse.media import MediaError, MediaLimits, PixelBudget, decode_media
from likeness.media_workers import FaceModel, worker_backend, worker_face_model
from likeness.scan_detection import FoundFace
from rights.matching.clip_embeddings import ClipEmbeddings, clip_encoder
from rights.matching.image_fingerprints import input_fingerprint


@dataclass(frozen=True)
class InputFace:
    input: int  # which file of the request, from 0
    face: FoundFace


@dataclass(frozen=True)
class FramePrint:
    """The fingerprint of one sampled frame (image_fingerprints.input_fingerprint)."""

    input: int
    frame: int
    timestamp_s: float
    fingerprint: np.ndarray  # (2, 3) uint64


@dataclass(frozen=True)
class MediaInspection:
    model: FaceModel
    frames: int
    faces: list[InputFace]
    prints: list[FramePrint]
    embeddings: ClipEmbeddings | None = None  # one row per print, with a CLIP model


def inspect_media(
    uploads: list[bytes],
    *,
    limits: MediaLimits,
    sample_fps: float,
    threshold: float | None,
    clip_model_dir: Path | None = None,
    first_file: int = 0,
) -> MediaInspection:
    """Decode every file and find, in each sampled frame, its faces and its fingerprint (and
    its embedding by the CLIP model of ``clip_model_dir``). ``first_file``: the request's
    index of the first of ``uploads``, when they are a part of its files.

    Raises the errors of clearhouse.media, naming the file (``file 2: ...``)."""
    budget = PixelBudget(limits)
    frames = []
    for position, data in enumerate(uploads, start=first_file):
        try:
            decoded = decode_media(data, limits=limits, sample_fps=sample_fps, budget=budget)
        except MediaError as error:
            raise type(error)(f"file {position + 1}: {error.detail}") from error
        frames += [(position, frame) for frame in decoded]
    detections = worker_backend().detect_and_embed([frame.rgb for _, frame in frames])
    faces = [
        InputFace(
            input=position,
            face=FoundFace(
                frame=frame.index,
                timestamp_s=frame.timestamp_s,
                box=frame.source_box(face.box),
                embedding=face.embedding,
            ),
        )
        for (position, frame), found in zip(frames, detections, strict=True)
        for face in found
    ]
    prints = [
        FramePrint(
            input=position,
            frame=frame.index,
            timestamp_s=frame.timestamp_s,
            fingerprint=input_fingerprint(frame.rgb),
        )
        for position, frame in frames
    ]
    embeddings = None
    if clip_model_dir is not None:
        embeddings = clip_encoder(clip_model_dir).embed([frame.rgb for _, frame in frames])
    return MediaInspection(
        model=worker_face_model(threshold),
        frames=len(frames),
        faces=faces,
        prints=prints,
        embeddings=embeddings,
    )


def joined(parts: list[MediaInspection]) -> MediaInspection:
    """One inspection of a request's files inspected in consecutive parts (whose positions
    are already the request's)."""
    embedded = [part.embeddings for part in parts if part.embeddings is not None]
    vectors = [embeddings.vectors for embeddings in embedded]
    return MediaInspection(
        model=parts[0].model,
        frames=sum(part.frames for part in parts),
        faces=[face for part in parts for face in part.faces],
        prints=[found for part in parts for found in part.prints],
        embeddings=ClipEmbeddings(embedded[0].model_key, np.concatenate(vectors))
        if embedded
        else None,
    )
