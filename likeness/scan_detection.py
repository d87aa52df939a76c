"""A scan's media work, run in a media worker: one upload in, its faces out, no pixels.

The API process gets back what the scan answers with and searches for (where each face is,
in the upload's pixels, and its embedding) and which model made the embeddings. This module
imports no database code: workers stay small.
"""

from dataclasses import dataclass

import numpy as np

from likeness.media import MediaLimits, decode_media
from likeness.media_workers import FaceModel, worker_backend, worker_face_model


@dataclass(frozen=True)
class FoundFace:
    frame: int  # index in the source (every frame a video decoded counts)
    timestamp_s: float
    box: tuple[int, int, int, int]  # (left, top, right, bottom) in the upload's pixels
    embedding: np.ndarray


@dataclass(frozen=True)
class ScanDetections:
    model: FaceModel
    frames_scanned: int
    faces: list[FoundFace]


def detect_faces(
    data: bytes, *, limits: MediaLimits, sample_fps: float, threshold: float | None
) -> ScanDetections:
    """Decode ``data`` and find and embed every face of its (sampled) frames."""
    frames = decode_media(data, limits=limits, sample_fps=sample_fps)
    detections = worker_backend().detect_and_embed([frame.rgb for frame in frames])
    faces = [
        FoundFace(
            frame=frame.index,
            timestamp_s=frame.timestamp_s,
            box=frame.source_box(face.box),
            embedding=face.embedding,
        )
        for frame, found in zip(frames, detections, strict=True)
        for face in found
    ]
    return ScanDetections(
        model=worker_face_model(threshold), frames_scanned=len(frames), faces=faces
    )
