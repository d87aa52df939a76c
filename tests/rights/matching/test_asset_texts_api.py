"""Keywords and example prompts on assets: set at registration, changed, read back, exported,
erased with the account; bounded in count and length, refused with problem details."""

import uuid

import pytest
from factories import PASSWORD, sign_up

from rights.models import Asset
from rights.schemas import (
    MAX_EXAMPLE_PROMPT_CHARS,
    MAX_EXAMPLE_PROMPTS,
    MAX_KEYWORD_CHARS,
    MAX_KEYWORDS,
)

BODY = {
    "kind": "character",
    "handle": "bramblewick",
    "name": "Bramblewick",
    "keywords": ["old hedgehog", "knitted scarf"],
    "example_prompts": ["an elderly hedgehog in glasses telling stories by a fire"],
}


def test_keywords_and_example_prompts_are_kept_and_changed(client, holder):
    created = client.post("/v1/assets", headers=holder.headers, json=BODY)
    assert created.status_code == 201, created.text
    asset = created.json()
    assert asset["keywords"] == BODY["keywords"]
    assert asset["example_prompts"] == BODY["example_prompts"]

    changed = client.patch(
        f"/v1/assets/{asset['id']}", headers=holder.headers, json={"keywords": ["acorn tea"]}
    )
    assert changed.status_code == 200, changed.text
    read = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()
    assert read["keywords"] == ["acorn tea"]
    assert read["example_prompts"] == BODY["example_prompts"]  # untouched by the change


def test_another_holder_can_neither_read_nor_change_them(client, holder):
    asset = client.post("/v1/assets", headers=holder.headers, json=BODY).json()
    stranger = sign_up(client)
    assert client.get(f"/v1/assets/{asset['id']}", headers=stranger.headers).status_code == 404
    changed = client.patch(
        f"/v1/assets/{asset['id']}", headers=stranger.headers, json={"keywords": ["mine"]}
    )
    assert changed.status_code == 404
    assert (
        client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()["keywords"]
        == BODY["keywords"]
    )


def test_the_account_export_has_them_and_deleting_the_account_erases_them(client, holder, session):
    asset = client.post("/v1/assets", headers=holder.headers, json=BODY).json()
    export = client.get("/v1/accounts/me/export", headers=holder.headers)
    assert export.status_code == 200, export.text
    (exported,) = export.json()["assets"]
    assert exported["keywords"] == BODY["keywords"]
    assert exported["example_prompts"] == BODY["example_prompts"]

    deleted = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text
    row = session.get(Asset, uuid.UUID(asset["id"]))
    assert (row.keywords, row.example_prompts) == ([], [])


TOO_MUCH = [
    ("keywords", [f"keyword {n}" for n in range(MAX_KEYWORDS + 1)], "at most 25 items"),
    ("keywords", ["x" * (MAX_KEYWORD_CHARS + 1)], "at most 60 characters"),
    ("keywords", [""], "at least 1 character"),
    ("keywords", ["   "], "visible character"),
    ("keywords", ["red\u202ecap"], "bidirectional controls"),
    ("example_prompts", ["a prompt"] * (MAX_EXAMPLE_PROMPTS + 1), "at most 10 items"),
    ("example_prompts", ["x" * (MAX_EXAMPLE_PROMPT_CHARS + 1)], "at most 500 characters"),
    ("example_prompts", "a string, not a list", "valid list"),
]


@pytest.mark.parametrize(("field", "value", "message"), TOO_MUCH)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_too_many_or_too_long_texts_are_refused_with_problem_details(
    client, holder, field, value, message, method
):
    if method == "POST":
        response = client.post("/v1/assets", headers=holder.headers, json={**BODY, field: value})
    else:
        asset = client.post("/v1/assets", headers=holder.headers, json=BODY).json()
        response = client.patch(
            f"/v1/assets/{asset['id']}", headers=holder.headers, json={field: value}
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(error["location"][:2] == ["body", field] for error in problem["errors"]), problem
    assert any(message in error["message"] for error in problem["errors"]), problem
