"""Asking for generations through the API, and running their jobs with the tiny pipeline."""

import dataclasses
import time
import uuid

import httpx
import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from generator.models import FINAL_STATES, GenerationJob
from generator.pipeline import ClipPipeline
from generator.runtime import GeneratorRuntime
from licensing.models import Charge, Licence

# Two frames of 64x64, two denoising steps: the whole path in about a second on a CPU.
SMALL = {"duration_ms": 500, "fps": 4, "width": 64, "height": 64, "steps": 2, "seed": 3}
USD_POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "price": {"currency": "USD", "per_use_minor": 150, "per_second_minor": 10},
}


def generation_body(prompt: str = "waves on a quiet beach", **changes) -> dict:
    return {"prompt": prompt, "declared_use": "commercial", **SMALL, **changes}


def ask(client: httpx.Client, user, prompt: str = "waves on a quiet beach", **changes) -> dict:
    """POST /v1/generations; the answer's body (clearance and generation)."""
    answer = client.post(
        "/v1/generations", headers=user.headers, json=generation_body(prompt, **changes)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def queued(client: httpx.Client, user, prompt: str = "waves on a quiet beach", **changes) -> str:
    """A cleared generation's id, queued."""
    body = ask(client, user, prompt, **changes)
    assert body["clearance"]["outcome"] == "cleared", body
    assert body["generation"]["state"] == "queued"
    return body["generation"]["id"]


class RevokingAfterGenerating:
    """The tiny pipeline, with the owner revoking the moment the frames are made: between
    the last denoising step and the release, the window only the release's re-read sees."""

    def __init__(self, pipeline, revoke) -> None:
        self.pipeline, self.revoke = pipeline, revoke
        self.model = pipeline.model

    def __call__(self, **request):
        clip = self.pipeline(**request)
        self.revoke()
        return clip


def generator_runtime(client, pipeline: ClipPipeline, **settings) -> GeneratorRuntime:
    """A worker's runtime on the test app's database, keys and face index, with ``pipeline``."""
    state = client.app.state
    return GeneratorRuntime(
        engine=state.engine,
        settings=state.settings.model_copy(update=settings),
        keys=state.keys,
        likeness=state.likeness,
        catalogue=state.reference_catalogue,
        loaded_pipeline=pipeline,
    )


def job(engine: Engine, generation_id) -> GenerationJob:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(GenerationJob, uuid.UUID(str(generation_id)))


def charges_and_licences(engine: Engine, generation_id) -> tuple[int, int]:
    job_id = uuid.UUID(str(generation_id))
    with Session(engine) as session:
        return (
            session.exec(select(func.count()).where(Charge.generation_id == job_id)).one(),
            session.exec(select(func.count()).where(Licence.generation_id == job_id)).one(),
        )


def wait_until_final(engine: Engine, generation_id, *, seconds: float = 120) -> GenerationJob:
    deadline = time.monotonic() + seconds
    while (current := job(engine, generation_id)).state not in FINAL_STATES:
        assert time.monotonic() < deadline, f"the job is still {current.state.value}"
        time.sleep(0.05)
    return current


class ShowingPicture:
    """The tiny pipeline, its frames replaced by ``picture``: an output that shows something."""

    def __init__(self, pipeline, picture) -> None:
        self.pipeline, self.picture = pipeline, picture
        self.model = pipeline.model

    def __call__(self, **request):
        clip = self.pipeline(**request)
        size = (request["width"], request["height"])
        shown = np.asarray(self.picture.convert("RGB").resize(size))
        return dataclasses.replace(clip, frames=np.stack([shown] * len(clip.frames)))
