"""Running one generation job: a job id in, state changes out.

:func:`run_job` is the whole of a worker's work on a job and needs nothing but the job's id
and a :class:`GeneratorRuntime`, so every worker runs the same function: in process
(generator/worker.py), or with its pipeline on Ray actors (generator/ray_workers.py), where
only the frames are computed elsewhere. In order:

1. take the job (queued → generating, counting the attempt; another worker's job is left);
2. verify its clearance token against the digest of exactly what will run (prompt, declared
   use, parameters): a refused token fails the job and nothing is generated;
3. generate, storing progress at every step; a consent withdrawn meanwhile cancels the job
   within a step;
4. encode the MP4 and check the output (generating → checking_output) with the output check
   of licensing/output_checks.py, on frames sampled as an uploaded video's are: anything the
   clearance does not cover blocks the release;
5. sign the clip's C2PA manifest (the clearance, the licences, the status URL) into its file
   in the data dir, flushed to disk;
6. release (generator/release.py): consents re-read, licences and charge recorded, released.

A blocked output's clip is held instead (generator/held_outputs.py), for the licences the
owners of what blocked it may offer.

Any error ends the attempt: the job is queued again, or failed after its last attempt. An
attempt starts by removing the files earlier attempts of its job left, and a job that ends
otherwise than released leaves none (generator/clip_files.py) but a blocked one's held clip.
"""

import hashlib
import io
import logging
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clearhouse.accounts.models import Account
from clearhouse.db import read_session, utcnow, write_session
from clearhouse.logs import request_id_set
from clearhouse.media import shrunk_size
from clearhouse.settings import Settings
from generator.clip_files import discard_job_files
from generator.errors import GenerationCancelled
from generator.held_outputs import discard_held_output, hold_output
from generator.jobs import end_attempt, job_request_id, move_job, record_progress, take_job
from generator.models import FINAL_STATES, GenerationJob, JobState
from generator.pipeline import ClipPipeline, GeneratedClip, frame_count
from generator.provenance import GenerationRecord, generation_status_url, sign_clip
from generator.release import ReleaseOutcome, cancellation_reason, manifest_licence, release
from generator.runtime import GeneratorRuntime
from generator.video import encode_mp4
from licensing.digest import request_digest
from licensing.errors import ClearanceRefusal, ClearanceTokenRefused, RequestNotDigestible
from licensing.licences import PlannedLicence, planned_licences, withdrawn_consents
from licensing.models import OutputVerdict
from licensing.output_checks import check_output
from licensing.schemas import OutputCheckPublic
from licensing.tokens import ClearanceClaims, verify_clearance_token
from likeness.errors import FaceIndexUnavailable, MediaBusy, MediaWorkerLost

log = logging.getLogger(__name__)

# Each waits up to `media_queue_seconds` for a media worker: well within the job's lease.
_OUTPUT_CHECK_TRIES = 5


def output_samples(frames: npt.NDArray[np.uint8], *, fps: int, settings: Settings) -> list[bytes]:
    """PNG files of the frames the output check looks at: as many as an uploaded video of the
    clip's length gives at ``scan_sample_fps``, spread evenly from the first frame to the last,
    and no more than fit the check's pixel budget (``upload_max_pixels`` of frames shrunk to
    ``media_max_side``), so that no clip is too large to check."""
    from PIL import Image

    count, height, width, _ = frames.shape
    wanted = math.floor((count - 1) / fps * settings.scan_sample_fps) + 1
    kept_width, kept_height = shrunk_size(width, height, max_side=settings.media_max_side)
    fitting = max(1, settings.upload_max_pixels // (kept_width * kept_height))
    chosen = np.unique(np.linspace(0, count - 1, min(wanted, fitting, count)).round().astype(int))
    files = []
    for index in chosen:
        png = io.BytesIO()
        Image.fromarray(frames[index]).save(png, format="PNG", compress_level=1)
        files.append(png.getvalue())
    return files


def video_path(runtime: GeneratorRuntime, name: str) -> Path:
    return runtime.settings.generations_dir / name


def run_job(job_id: uuid.UUID, *, runtime: GeneratorRuntime) -> JobState | None:
    """Run the job ``job_id`` if it is queued; the state this attempt left it in, or None
    when it was not this worker's to run (not queued, taken by another worker, or taken over
    from this one)."""
    pipeline = runtime.pipeline()  # loaded before taking the job: the lease is for running it
    with request_id_set(job_request_id(runtime.engine, job_id=job_id)):
        attempt = take_job(runtime.engine, job_id=job_id, now=utcnow())
        if attempt is None:
            return None
        log.info("generation job %s, attempt %d, started", job_id, attempt)
        state = _run_attempt(job_id, attempt, pipeline=pipeline, runtime=runtime)
        log.info("generation job %s, attempt %d, ended: %s", job_id, attempt, state or "taken over")
        return state


def _run_attempt(
    job_id: uuid.UUID, attempt: int, *, pipeline: ClipPipeline, runtime: GeneratorRuntime
) -> JobState | None:
    """One attempt at a job taken: generated, checked, signed, released (or not)."""
    discard_job_files(runtime.settings.generations_dir, job_id=job_id)  # earlier attempts'
    run = _Attempt(job_id=job_id, number=attempt, runtime=runtime)
    state = None
    try:
        state = run.run(pipeline)
    except GenerationCancelled:
        state = run.after_cancel()
    except Exception as exc:
        log.exception("generation job %s, attempt %d, stopped", job_id, attempt)
        state = end_attempt(
            runtime.engine,
            job_id=job_id,
            attempt=attempt,
            reason=f"an internal error ({type(exc).__name__})",
            max_attempts=runtime.settings.generation_max_attempts,
            now=utcnow(),
        )
    finally:
        run.unsigned.unlink(missing_ok=True)
    if state in FINAL_STATES and state != JobState.released:
        discard_job_files(runtime.settings.generations_dir, job_id=job_id)
    return state


@dataclass
class _Attempt:
    job_id: uuid.UUID
    number: int
    runtime: GeneratorRuntime
    lost: bool = False  # the job moved on without this attempt
    grant_ids: list[uuid.UUID] = field(default_factory=list)  # the consents relied on
    withdrawn: list[str] = field(default_factory=list)  # handles whose consent was withdrawn

    @property
    def unsigned(self) -> Path:
        return video_path(self.runtime, f"{self.job_id}-{self.number}.unsigned.mp4")

    @property
    def signed_name(self) -> str:
        return f"{self.job_id}-{self.number}.mp4"

    def run(self, pipeline: ClipPipeline) -> JobState | None:
        engine, settings = self.runtime.engine, self.runtime.settings
        try:
            with read_session(engine) as session:
                job = session.get(GenerationJob, self.job_id)
                requester = session.get(Account, job.requester_id)
                claims = self._verified_claims(job)
                licences = planned_licences(
                    session,
                    clearance_id=job.clearance_id,
                    relied_on=claims.relied_on,
                    currency=claims.currency,
                )
        except ClearanceTokenRefused as refused:
            return self._end(
                JobState.generating,
                JobState.failed,
                reasons=[
                    f"The clearance token was refused ({refused.reason.value}): "
                    f"{refused.detail} Nothing was generated."
                ],
            )
        self.grant_ids = [licence.grant_id for licence in licences]
        clip = self._generate(pipeline, job)
        settings.generations_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fps = job.parameters["fps"]
        encode_mp4(clip.frames, fps=fps, destination=self.unsigned)
        if not self._move(JobState.generating, JobState.checking_output):
            return None
        check = self._check_output(
            requester, job=job, samples=output_samples(clip.frames, fps=fps, settings=settings)
        )
        if check.verdict == OutputVerdict.release_blocked:
            # Held, unsigned and never served, for the licences its blocking assets' owners
            # may offer (generator/held_outputs.py).
            hold_output(
                settings.generations_dir,
                job_id=self.job_id,
                unsigned=self.unsigned,
                model=clip.model,
            )
            blocked = self._end(
                JobState.checking_output,
                JobState.blocked,
                reasons=check.reasons,
                output_check_id=check.id,
            )
            if blocked is None:
                discard_held_output(settings.generations_dir, job_id=self.job_id)
            return blocked
        signed = self._sign(job, clip=clip, licences=licences)
        with write_session(engine) as session:
            outcome = release(
                session,
                job_id=self.job_id,
                attempt=self.number,
                payer_id=job.requester_id,
                clearance_id=job.clearance_id,
                licences=licences,
                total_minor=claims.total_minor,
                currency=claims.currency,
                video_name=self.signed_name,
                video_sha256=hashlib.sha256(signed.read_bytes()).hexdigest(),
                now=utcnow(),
            )
        if outcome != ReleaseOutcome.released:
            signed.unlink(missing_ok=True)
        return {
            ReleaseOutcome.released: JobState.released,
            ReleaseOutcome.cancelled: JobState.cancelled,
            ReleaseOutcome.lost: None,
        }[outcome]

    def _check_output(
        self, requester: Account, *, job: GenerationJob, samples: list[bytes]
    ) -> OutputCheckPublic:
        """The output check; when it cannot run for now (every media worker busy, uploads
        coming first; a worker lost; a face index shard reloading), tried again a few times
        before the attempt ends. Never an answer without the check."""
        tried = 1
        while True:
            try:
                return check_output(
                    self.runtime.engine,
                    requester=requester,
                    clearance_id=job.clearance_id,
                    uploads=samples,
                    likeness=self.runtime.likeness,
                    catalogue=self.runtime.catalogue,
                    now=utcnow(),
                    ours=True,  # frames of the clip, fitted to the budget by output_samples
                )
            except (MediaBusy, MediaWorkerLost, FaceIndexUnavailable):
                if tried == _OUTPUT_CHECK_TRIES or self.runtime.stopping.wait(1.0):
                    raise
                tried += 1

    def _verified_claims(self, job: GenerationJob) -> ClearanceClaims:
        """The job's token verified for the digest of what will run. Checked as of the job's
        creation: the token lets a generation start, and the platform accepted this one then
        (a busy queue does not expire it); its signature, issuer, audience and digest are
        checked in full."""
        try:
            digest = request_digest(
                prompt=job.prompt,
                declared_use=job.declared_use,
                parameters=job.parameters,
                input_media_sha256=[],
            )
        except RequestNotDigestible as exc:
            raise ClearanceTokenRefused(ClearanceRefusal.other_request, exc.detail) from exc
        claims = verify_clearance_token(
            job.clearance_token,
            request_digest=digest,
            now=job.created_at,
            settings=self.runtime.settings,
            keys=self.runtime.keys,
        )
        if (claims.clearance_id, claims.requester_id) != (job.clearance_id, job.requester_id):
            raise ClearanceTokenRefused(
                ClearanceRefusal.other_request,
                "The token is another clearance's, or another account's.",
            )
        return claims

    def _generate(self, pipeline: ClipPipeline, job: GenerationJob) -> GeneratedClip:
        parameters = job.parameters
        with self.runtime.generating:
            return pipeline(
                prompt=job.prompt,
                seed=parameters["seed"],
                frame_count=frame_count(
                    duration_ms=parameters["duration_ms"], fps=parameters["fps"]
                ),
                width=parameters["width"],
                height=parameters["height"],
                steps=parameters["steps"],
                on_progress=self._progress,
                should_cancel=self._should_stop,
            )

    def _progress(self, steps_done: int, steps_total: int) -> None:
        if not record_progress(
            self.runtime.engine,
            job_id=self.job_id,
            attempt=self.number,
            steps_done=steps_done,
            steps_total=steps_total,
            now=utcnow(),
        ):
            self.lost = True

    def _should_stop(self) -> bool:
        """Between two steps: stop if the job moved on, the process is stopping, or a consent
        it relies on was withdrawn (the release would be cancelled anyway)."""
        if self.lost or self.runtime.stopping.is_set():
            return True
        with read_session(self.runtime.engine) as session:
            self.withdrawn = withdrawn_consents(session, grant_ids=self.grant_ids, lock=False)
        return bool(self.withdrawn)

    def after_cancel(self) -> JobState | None:
        """The generation stopped between two steps: say why in the job."""
        if self.lost:
            return None
        if self.withdrawn:
            return self._end(
                JobState.generating,
                JobState.cancelled,
                reasons=[cancellation_reason(self.withdrawn)],
            )
        return end_attempt(
            self.runtime.engine,
            job_id=self.job_id,
            attempt=self.number,
            reason="its worker shut down",
            max_attempts=self.runtime.settings.generation_max_attempts,
            now=utcnow(),
        )

    def _sign(
        self, job: GenerationJob, *, clip: GeneratedClip, licences: list[PlannedLicence]
    ) -> Path:
        """The clip with its signed manifest, whole on disk before anything is released."""
        settings = self.runtime.settings
        record = GenerationRecord(
            generation_id=self.job_id,
            clearance_id=job.clearance_id,
            generated_at=utcnow(),
            model=clip.model,
            licences=tuple(manifest_licence(licence) for licence in licences),
            status_url=generation_status_url(
                public_url=settings.public_url, generation_id=self.job_id
            ),
        )
        signed = video_path(self.runtime, self.signed_name)
        sign_clip(
            video=self.unsigned,
            destination=signed,
            record=record,
            identity=self.runtime.signing_identity(),
        )
        with signed.open("rb") as written:
            os.fsync(written.fileno())
        directory = os.open(signed.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return signed

    def _move(self, leaving: JobState, to: JobState, **values) -> bool:
        with write_session(self.runtime.engine) as session:
            moved = move_job(
                session,
                job_id=self.job_id,
                attempt=self.number,
                leaving=leaving,
                to=to,
                now=utcnow(),
                **values,
            )
        self.lost = self.lost or not moved
        return moved

    def _end(self, leaving: JobState, to: JobState, **values) -> JobState | None:
        return to if self._move(leaving, to, **values) else None
