"""A released clip's poster frame: its first frame as a small JPEG, for the owners of the
assets it used to recognise it among their uses.

Made once with PyAV and Pillow and kept in the data dir's ``posters/`` (a few kilobytes per
clip, against a decode of the MP4 on each view). Only the owner of an asset the generation
is licensed under may see it, and only while the clip itself is served: once taken down, its
poster is not shown either.
"""

import os
import tempfile
import uuid
from pathlib import Path

from sqlmodel import Session, col, select

from clearhouse.errors import NotFound
from clearhouse.settings import Settings
from generator.models import GenerationJob, JobState
from licensing.models import Licence
from rights.models import Asset

#: The poster's longest side, in pixels: a thumbnail, not a still of the clip.
POSTER_SIZE = 320


def owners_released_generation(
    session: Session, *, owner_id: uuid.UUID, generation_id: uuid.UUID
) -> GenerationJob:
    """A released generation, still served, licensed under one of ``owner_id``'s assets;
    anyone else's (or one that does not exist, or was taken down) is not found."""
    uses_owners_asset = (
        select(Licence.id)
        .join(Asset, Asset.id == Licence.asset_id)
        .where(Licence.generation_id == GenerationJob.id, Asset.owner_id == owner_id)
        .exists()
    )
    job = session.exec(
        select(GenerationJob).where(
            GenerationJob.id == generation_id,
            GenerationJob.state == JobState.released,
            col(GenerationJob.taken_down_at).is_(None),
            uses_owners_asset,
        )
    ).first()
    if job is None or job.video_name is None:
        raise NotFound("No released clip with this id uses your assets.")
    return job


def poster_path(settings: Settings, job: GenerationJob) -> Path:
    """The poster of the released ``job``, made from its clip the first time it is asked."""
    poster = settings.data_dir / "posters" / f"{job.id}.jpg"
    if not poster.exists():
        clip = settings.generations_dir / job.video_name
        if not clip.exists():  # a data dir restored without its clips
            raise NotFound("This clip's file is not on this server, so it has no poster.")
        _make_poster(clip, poster)
    return poster


def _make_poster(clip: Path, poster: Path) -> None:
    import av

    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0)).to_image()
    frame.thumbnail((POSTER_SIZE, POSTER_SIZE))
    poster.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a viewer never reads a half-written poster.
    handle, partial = tempfile.mkstemp(dir=poster.parent, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            frame.save(out, format="JPEG", quality=85)
        os.replace(partial, poster)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
