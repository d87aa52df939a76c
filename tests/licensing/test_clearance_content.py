"""Excluded content against what a prompt shows, declared or not: the content check's
categories reach the decision, the answer and the stored clearance, and a denial says why in
words; the prompt is embedded once for both checks of its text, and what a short prompt says
beside the asset's name once more, alone."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from factories import granted_asset

from licensing.models import Clearance

NO_VIOLENCE = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "excluded_content": ["violence"],
    "price": {"currency": "USD", "per_use_minor": 150},
}
PARAMETERS = {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20}
STABBING = "stabs a guard over and over in a dark corridor, blood pooling on the floor"


def _clear(client, requester, prompt: str, **changes) -> dict:
    body = {"prompt": prompt, "declared_use": "commercial", "parameters": PARAMETERS, **changes}
    answer = client.post("/v1/clearances", headers=requester.headers, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def no_violence(client, holder):
    asset, _ = granted_asset(client, holder, handle="captain_test", policy=NO_VIOLENCE)
    return asset


def test_an_undeclared_violent_prompt_is_denied_for_an_asset_that_excludes_violence(
    client, holder, requester, no_violence
):
    denied = _clear(client, requester, f"Captain Test {STABBING}")  # declares no content
    assert denied["outcome"] == "denied"
    [shown] = denied["content"]
    assert shown["category"] == "violence" and shown["declared"] is False
    [evidence] = shown["detected_by"]
    assert evidence["kind"] == "description" and evidence["score"] > 0
    [touched] = denied["assets"]
    assert touched["handle"] == "captain_test" and touched["outcome"] == "deny"
    reason = (
        "@captain_test may never appear in violent content, and this prompt shows it: "
        f"it reads like \u201c{evidence['text']}\u201d."
    )
    assert touched["reasons"] == [reason]
    assert denied["reasons"] == [reason] and denied["token"] is None

    stored = client.get(f"/v1/clearances/{denied['id']}", headers=requester.headers).json()
    assert stored["content"] == denied["content"]
    usage = client.get(f"/v1/assets/{no_violence['id']}/usage", headers=holder.headers).json()
    assert [r["text"] for r in usage["items"][0]["reasons"]] == [reason]


def test_the_same_prompt_touching_no_asset_is_cleared_and_says_what_it_shows(client, requester):
    cleared = _clear(client, requester, f"a soldier {STABBING}")
    assert cleared["outcome"] == "cleared" and cleared["assets"] == []
    assert [shown["category"] for shown in cleared["content"]] == ["violence"]


def test_a_declared_category_counts_though_the_prompt_does_not_show_it(
    client, requester, no_violence
):
    denied = _clear(client, requester, "Captain Test sails at dawn", content=["violence"])
    assert denied["outcome"] == "denied"
    assert denied["content"] == [{"category": "violence", "declared": True, "detected_by": []}]
    assert denied["reasons"] == [
        "@captain_test may never appear in violent content, and this request declares it."
    ]
    assert _clear(client, requester, "Captain Test sails at dawn")["outcome"] == "cleared"


def test_a_word_of_a_category_is_shown_where_it_was_written(client, requester):
    prompt = "a medieval execution, the traitor b e h e a d e d before the crowd"
    [shown] = _clear(client, requester, prompt)["content"]
    words = [e for e in shown["detected_by"] if e["kind"] == "word"]
    assert shown["category"] == "violence"
    assert [(e["text"], prompt[slice(*e["span"])]) for e in words] == [
        ("b e h e a d e d", "b e h e a d e d")
    ]


@contextmanager
def _embedded(client) -> Iterator[list[str]]:
    """The texts the app's sentence model embeds inside the block."""
    encoder = client.app.state.matching.encoder
    texts: list[str] = []
    encode = encoder.encode

    def counted(batch: list[str]):
        texts.extend(batch)
        return encode(batch)

    encoder.encode = counted
    try:
        yield texts
    finally:
        del encoder.encode


def test_the_prompt_is_embedded_once_for_both_checks(client, requester, no_violence):
    _clear(client, requester, "Captain Test sails at dawn")  # the model and catalogue loaded
    with _embedded(client) as texts:
        _clear(client, requester, f"Captain Test {STABBING}")
    assert texts == [f"Captain Test {STABBING}"]


def test_a_short_prompt_naming_the_asset_is_read_for_what_it_shows_beside_the_name(
    client, holder, requester
):
    # "@captain_test a video" read whole reads like "a video telling a streamer to kill
    # herself": the handle is the only word of content. Beside it, nothing is shown.
    policy = {**NO_VIOLENCE, "excluded_content": ["sexual", "harassment"]}
    granted_asset(client, holder, handle="captain_test", policy=policy)
    for prompt in ("@captain_test a video", "Captain Test, my video"):
        cleared = _clear(client, requester, prompt)
        assert (cleared["outcome"], cleared["content"]) == ("cleared", []), prompt
    with _embedded(client) as texts:
        denied = _clear(client, requester, "@captain_test nude woman")
    assert denied["outcome"] == "denied"
    assert [shown["category"] for shown in denied["content"]] == ["sexual"]
    assert texts == ["@captain_test nude woman", "nude woman"]  # the rest, read alone


def test_a_clearance_stored_before_the_content_check_reads_back_its_declared_names(
    client, requester, session
):
    made = _clear(client, requester, "waves on a quiet beach", content=["political"])
    stored = session.get(Clearance, uuid.UUID(made["id"]))
    stored.content_categories = ["political"]  # as clearances were recorded before
    session.add(stored)
    session.commit()
    again = client.get(f"/v1/clearances/{made['id']}", headers=requester.headers).json()
    assert again["content"] == [{"category": "political", "declared": True, "detected_by": []}]
