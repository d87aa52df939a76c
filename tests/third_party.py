"""A third-party generator's clearance and what its release recorded, for the tests of
licensing/third_party_release.py."""

import uuid

from drawn_characters import draw_character, png_bytes
from sqlmodel import Session, select

from licensing.models import Charge, Licence

PROMPT = "Nova Knight at sea"
# A drawing nobody registered: an output that shows nothing the clearance does not cover.
OUTPUT = png_bytes(draw_character(3))


def third_party_clearance(client, requester, prompt: str = PROMPT) -> dict:
    """POST /v1/clearances as a third-party generator sends it: cleared, no generation."""
    answer = client.post(
        "/v1/clearances",
        headers=requester.headers,
        json={
            "prompt": prompt,
            "declared_use": "commercial",
            "parameters": {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20},
        },
    )
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    assert body["outcome"] == "cleared", body
    return body


def charges_and_licences(engine, clearance_id: str) -> tuple[int, int]:
    """How many charges and licences the clearance's release recorded."""
    cid = uuid.UUID(clearance_id)
    with Session(engine) as session:
        return (
            len(session.exec(select(Charge).where(Charge.clearance_id == cid)).all()),
            len(session.exec(select(Licence).where(Licence.clearance_id == cid)).all()),
        )
