"""Blocked generations and licence offers for them, through the API."""

import io
import uuid

from clearing import character_with_reference, check_output, licensed, usage
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


def third_party_clearance_showing(client, holder, requester, *, seed: int) -> tuple:
    """A cleared request of ``requester``'s that names nothing registered, a character of
    ``holder``'s (licensed to anyone) and a frame of a third-party generator's output for that
    request that shows the character (PNG bytes): the clearance, the character, the frame."""
    drawn = draw_character(seed)
    character = character_with_reference(client, holder, png_bytes(drawn), handle=f"drawn_{seed}")
    licensed(client, holder, character["id"])
    cleared = client.post(
        "/v1/clearances",
        headers=requester.headers,
        json={
            "prompt": "waves on a quiet beach",
            "declared_use": "personal",
            "parameters": {"duration_ms": 2000, "width": 128, "height": 128, "steps": 2},
        },
    ).json()
    assert cleared["outcome"] == "cleared", cleared
    frame = io.BytesIO()
    drawn.convert("RGB").resize((256, 256)).save(frame, format="PNG")
    return cleared, character, frame.getvalue()


def third_party_blocked_uses(client, holder, requester, *, checks: int = 1, seed: int = 13):
    """``checks`` outputs a third-party generator checked for one clearance of ``requester``'s,
    each blocked because it shows ``holder``'s character (licensed to anyone, not named in the
    prompt): the holder's blocked uses, one per check, and the character. No generation runs."""
    cleared, character, frame = third_party_clearance_showing(client, holder, requester, seed=seed)
    for _ in range(checks):
        checked = check_output(client, requester, cleared["id"], [frame])
        assert checked.json()["verdict"] == "release_blocked", checked.text
    uses = [u for u in usage(client, holder, character["id"]) if u["found_in"] == "output"]
    assert len(uses) == checks
    return uses, character
