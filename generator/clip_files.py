"""A job's clip files in the data dir's generations/: ``JOB-ATTEMPT.unsigned.mp4`` while an
attempt encodes and signs, ``JOB-ATTEMPT.mp4`` once signed (generator/tasks.py).

An attempt that crashed (its process killed, an error after signing) leaves its files behind.
They are removed when the job's next attempt starts (no other attempt of it runs then but
one already taken over, which can no longer release), and when the job ends otherwise than
released, by its last attempt or failed for want of one: a job leaves no file but its
released clip, or a blocked job's held clip (``JOB.held.mp4``, generator/held_outputs.py),
which this glob does not match.
"""

import uuid
from pathlib import Path


def discard_job_files(generations_dir: Path, *, job_id: uuid.UUID) -> None:
    """Remove every clip file of the job ``job_id``, of whichever attempt."""
    for path in generations_dir.glob(f"{job_id}-*.mp4"):
        path.unlink(missing_ok=True)
