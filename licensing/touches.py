"""What a request touches, as :class:`Touch` values with their evidence: the prompt's text
(rights/matching), and the faces and pictures of its media (the likeness index, the
reference pictures of characters and styles).

Media are decoded once, in a media worker (licensing/media_inspection.py); the searches run
here, in the API process, in the caller's read transaction. A face is looked up among every
owner's live likenesses, as only staff may otherwise: clearance must find a face to deny it.
What the requester then learns of it is presentation's to decide (licensing/presentation.py).
"""

import hashlib
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from sqlmodel import Session

from licensing.clearance import RestrictionReading, ScannedRequest, Touch
from licensing.media_inspection import MediaInspection, inspect_media, joined
from licensing.metrics import Stage, timed
from likeness.runtime import LikenessRuntime
from likeness.scan import find_likenesses
from rights.matching.runtime import MatchingRuntime
from rights.matching.types import TextMatch
from rights.references.catalogue import ReferenceCatalogue


def scan_request(
    session: Session,
    *,
    prompt: str,
    uploads: list[bytes],
    matching: MatchingRuntime,
    likeness: LikenessRuntime,
    catalogue: ReferenceCatalogue,
) -> ScannedRequest:
    """The text, image and face checks of a request, before the clearance's write
    transaction, searching in ``session`` (a `read_session`: on PostgreSQL each search reads
    what is current, statement by statement, with no BEGIN and ROLLBACK around them). Media
    are decoded first, in a media worker, with no read transaction open meanwhile. Raises
    what :func:`inspect_uploads` raises."""
    found_in_media = []
    if uploads:
        session.close()  # whatever the caller read ends: decoding takes long
        with timed(Stage.face_scan):
            inspection = inspect_uploads(uploads, likeness=likeness, catalogue=catalogue)
            found_in_media = media_touches(
                session, inspection=inspection, likeness=likeness, catalogue=catalogue
            )
    with timed(Stage.text_match):
        scanned = scan_prompt(session, prompt=prompt, matching=matching)
    return scanned.with_touches(found_in_media)


def scan_prompt(session: Session, *, prompt: str, matching: MatchingRuntime) -> ScannedRequest:
    """The text check of a request: what its prompt names or describes, and what it shows
    beside those names. Also what the portal's policy preview reads a sample prompt with, so
    that the preview decides as a clearance would."""
    # A decision to allow reads every counter rather than trust the change channel: a change
    # committed through another process a moment ago counts, heard of yet or not.
    checked = matching.check_text(session, prompt, read_counter=True)
    return ScannedRequest(
        touches=text_touches(prompt, checked.matches),
        content=checked.content,
        protected=checked.protected,
        restrictions=RestrictionReading(
            check=matching.restrictions, embedding=checked.embedding, content=checked.content
        ),
    )


def text_touches(prompt: str, matches: Sequence[TextMatch]) -> list[Touch]:
    """One touch per match: what found it, how strongly, and the words of the prompt."""
    return [
        Touch(
            asset_id=match.asset_id,
            evidence={
                "kind": match.kind.value,
                "score": round(match.score, 4),
                "span": [match.start, match.end],
                "text": prompt[match.start : match.end],
            },
        )
        for match in matches
    ]


def media_sha256(uploads: Sequence[bytes]) -> list[str]:
    """The lowercase hex SHA-256 of each file, in order: what the request digest covers."""
    return [hashlib.sha256(data).hexdigest() for data in uploads]


def inspect_uploads(
    uploads: list[bytes],
    *,
    likeness: LikenessRuntime,
    catalogue: ReferenceCatalogue,
    ours: bool = False,
) -> MediaInspection:
    """Decode the files and find their faces and fingerprints (and CLIP embeddings, as the
    ``catalogue`` compares them), in a media worker (outside any transaction). Raises
    clearhouse.media's errors, MediaBusy or MediaWorkerLost.

    ``ours``: the files are frames this server made and fitted to the request's pixel budget
    (the generator's output samples), so they are inspected in parts, each on a budget of its
    own, over the media workers free at the time."""
    settings = likeness.settings
    inspect = partial(
        inspect_media,
        limits=likeness.media_limits,
        sample_fps=settings.scan_sample_fps,
        threshold=settings.face_match_threshold,
        clip_model_dir=None if catalogue.clip is None else catalogue.clip.model_dir,
    )
    if not ours:
        return likeness.run_media_work(partial(inspect, uploads))
    parts = likeness.run_media_split(
        uploads, lambda part, first: partial(inspect, part, first_file=first)
    )
    return joined(parts)


def media_touches(
    session: Session,
    *,
    inspection: MediaInspection,
    likeness: LikenessRuntime,
    catalogue: ReferenceCatalogue,
) -> list[Touch]:
    """The registered likenesses, characters and styles the inspected media show: one touch
    per asset, file and kind of evidence, at the frame that showed it best.

    A face touches every live likeness it matches: if it is close to two registered people,
    it is not for us to guess which one it is."""
    best: dict[tuple[uuid.UUID, int, str], dict[str, Any]] = {}

    def keep(asset_id: uuid.UUID, evidence: dict[str, Any]) -> None:
        key = (asset_id, evidence["input"], evidence["kind"])
        # A copy found by fingerprint outweighs a likeness of content found by embedding.
        if key not in best or _strength(evidence) > _strength(best[key]):
            best[key] = evidence

    likeness.refresh(session, read_counter=True)  # as in scan_request: heard of yet or not
    catalogue.refresh(session, read_counter=True)
    found = find_likenesses(
        session,
        runtime=likeness,
        model=inspection.model,
        embeddings=[found.face.embedding for found in inspection.faces],
        owner_id=None,
    )
    for found_face, matches in zip(inspection.faces, found, strict=True):
        face = found_face.face
        for match in matches:
            keep(
                match.asset_id,
                {
                    "kind": "face",
                    "score": match.similarity,
                    "input": found_face.input,
                    "frame": face.frame,
                    "timestamp_s": face.timestamp_s,
                    "box": list(face.box),
                },
            )
    prints = inspection.prints
    if prints:
        fingerprints = np.stack([frame.fingerprint for frame in prints])
        for match in catalogue.search(session, fingerprints, embeddings=inspection.embeddings):
            frame = prints[match.input_index]
            keep(
                match.asset_id,
                {
                    "kind": match.kind,
                    "method": match.method,
                    "score": match.score,
                    "input": frame.input,
                    "frame": frame.frame,
                    "timestamp_s": frame.timestamp_s,
                    "reference_id": str(match.reference_id),
                },
            )
    return [Touch(asset_id=key[0], evidence=evidence) for key, evidence in best.items()]


def _strength(evidence: dict[str, Any]) -> tuple[bool, float]:
    return evidence.get("method") != "embedding", evidence["score"]
