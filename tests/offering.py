"""Blocked generations and licence offers for them, through the API."""

import uuid

from clearing import character_with_reference, licensed, usage
from drawn_characters import draw_character, png_bytes
from generating import ShowingPicture, generator_runtime, queued

from generator.models import JobState
from generator.tasks import run_job


def blocked_generation(client, holder, requester, clip_pipeline, *, seed: int = 7) -> dict:
    """A generation of ``requester`` blocked because its frames show ``holder``'s character
    (licensed to anyone, not named in the prompt): its id, the holder's blocked use of it and
    the character."""
    drawn = draw_character(seed)
    character = character_with_reference(client, holder, png_bytes(drawn), handle=f"drawn_{seed}")
    licensed(client, holder, character["id"])
    generation_id = queued(client, requester, width=128, height=128)
    runtime = generator_runtime(client, ShowingPicture(clip_pipeline, drawn))
    assert run_job(uuid.UUID(generation_id), runtime=runtime) == JobState.blocked
    [use] = usage(client, holder, character["id"])
    assert (use["found_in"], use["generation_state"]) == ("output", "blocked")
    return {"generation_id": generation_id, "use": use, "character": character}


def offer(client, holder, use: dict):
    return client.post(f"/v1/uses/{use['use_id']}/licence-offer", headers=holder.headers)


def answer(client, user, offer_id: str, what: str):
    return client.post(f"/v1/licence-offers/{offer_id}/{what}", headers=user.headers)
