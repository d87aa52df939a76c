"""Takedown: a consent withdrawn takes down, in the revocation's own step, every released clip
licensed under it. The revocation says how many; the creator lists them and reads when and
why; the owner finds them in their asset's usage; nobody else sees anything of them; a clip
released under another consent stays served."""

import threading
import time
import uuid

import httpx
import pytest
from alembic import command
from claiming import verified
from factories import PASSWORD, create_asset, grant, set_policy, sign_up
from generating import USD_POLICY, generator_runtime, queued
from sqlalchemy import text

import generator.tasks
from clearhouse.migrations import alembic_config, upgrade_database
from generator.models import JobState
from generator.tasks import run_job


def _released(client, requester, pipeline, prompt: str) -> str:
    generation_id = queued(client, requester, prompt)
    assert run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, pipeline)) == (
        JobState.released
    )
    return generation_id


def _generations(client, user, **query) -> dict:
    answer = client.get("/v1/generations", headers=user.headers, params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _usage(client, owner, asset_id: str, **query) -> list[dict]:
    answer = client.get(f"/v1/assets/{asset_id}/usage", headers=owner.headers, params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def _served(client, requester, generation_id: str) -> bool:
    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    status = client.get(f"/v1/generations/{generation_id}/status").json()["status"]
    assert (video.status_code, status) in ((200, "released"), (410, "revoked")), video.text
    return video.status_code == 200


@pytest.fixture
def comet(client, session, holder) -> dict:
    """Another character of the holder's, @captain_comet, its claim verified, licensed under a
    grant of its own."""
    asset = create_asset(client, holder, handle="captain_comet", name="Captain Comet")
    verified(client, session, holder, asset["id"])
    set_policy(client, holder, asset["id"], USD_POLICY)
    return {**asset, "grant_id": grant(client, holder, asset["id"])["grant"]["id"]}


def test_a_withdrawn_consent_takes_down_its_clips_for_the_creator_and_the_owner_alone(
    client, holder, other_holder, requester, character, comet, clip_pipeline
):
    first = _released(client, requester, clip_pipeline, "Nova Knight at dawn")
    second = _released(client, requester, clip_pipeline, "Nova Knight at dusk")
    kept = _released(client, requester, clip_pipeline, "Captain Comet at noon")

    revoked = client.post(
        f"/v1/grants/{character['grant_id']}/revoke",
        headers=holder.headers,
        json={"reason": "a private reason"},
    )

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["generations_taken_down"] == 2
    [receipt] = revoked.json()["receipts"]
    [withdrawn] = revoked.json()["grants"]
    # The creator: both clips listed as taken down, newest first, with when and which consent.
    down = _generations(client, requester, taken_down="true")
    assert (down["total"], [g["id"] for g in down["items"]]) == (2, [second, first])
    for generation in down["items"]:
        assert generation["state"] == "released" and generation["video_url"] is None
        assert generation["taken_down"] == {
            "taken_down_at": withdrawn["revoked_at"],
            "asset_id": character["id"],
            "handle": "nova_knight",
            "grant_id": character["grant_id"],
            "withdrawal_receipt_id": receipt["id"],
        }
        assert "a private reason" not in str(generation)
        assert not _served(client, requester, generation["id"])
    read = client.get(f"/v1/generations/{first}", headers=requester.headers).json()
    assert read == down["items"][1]
    # The clip released under another consent stays up.
    up = _generations(client, requester, taken_down="false")
    assert [g["id"] for g in up["items"]] == [kept]
    assert up["items"][0]["taken_down"] is None and up["items"][0]["video_url"]
    assert _served(client, requester, kept)
    assert _generations(client, requester)["total"] == 3
    # The owner: the uses of their asset whose clip was taken down, and only those.
    uses = _usage(client, holder, character["id"], taken_down="true")
    assert sorted(u["generation_id"] for u in uses) == sorted([first, second])
    assert {u["taken_down_at"] for u in uses} == {withdrawn["revoked_at"]}
    assert _usage(client, holder, comet["id"], taken_down="true") == []
    [comet_use] = _usage(client, holder, comet["id"])
    assert (comet_use["generation_id"], comet_use["taken_down_at"]) == (kept, None)
    # And the owner's audit log records which clips the withdrawal took down.
    audit = client.get(f"/v1/assets/{character['id']}/audit", headers=holder.headers).json()
    [revocation] = [e for e in audit["items"] if e["action"] == "grant.revoked"]
    assert sorted(revocation["body"]["details"]["generations_taken_down"]) == sorted(
        [first, second]
    )
    # Anyone else: not found, nothing listed.
    stranger = sign_up(client, role="creator")
    for outsider in (stranger, holder, other_holder):
        assert _generations(client, outsider)["items"] == []
        for generation_id in (first, kept):
            answer = client.get(f"/v1/generations/{generation_id}", headers=outsider.headers)
            assert answer.status_code == 404, answer.text
    for outsider in (other_holder, sign_up(client)):
        answer = client.get(
            f"/v1/assets/{character['id']}/usage",
            headers=outsider.headers,
            params={"taken_down": "true"},
        )
        assert answer.status_code == 404, answer.text
    # A creator holds no assets: refused by role, as for any asset id.
    answer = client.get(f"/v1/assets/{character['id']}/usage", headers=requester.headers)
    assert answer.status_code == 403 and "roles" in answer.json()["detail"]


def test_revoking_every_grant_of_an_asset_takes_down_every_clip_licensed_under_one(
    client, holder, requester, character, comet, clip_pipeline
):
    old_grant = character["grant_id"]
    under_old = _released(client, requester, clip_pipeline, "Nova Knight at dawn")
    set_policy(client, holder, character["id"], {**USD_POLICY, "allowed_uses": ["commercial"]})
    new_grant = grant(client, holder, character["id"])["grant"]["id"]
    under_new = _released(client, requester, clip_pipeline, "Nova Knight at dusk")
    kept = _released(client, requester, clip_pipeline, "Captain Comet at noon")
    licensed_under = {
        generation_id: client.get(
            f"/v1/generations/{generation_id}", headers=requester.headers
        ).json()["licences"][0]["grant_id"]
        for generation_id in (under_old, under_new)
    }
    assert licensed_under == {under_old: old_grant, under_new: new_grant}

    revoked = client.post(f"/v1/assets/{character['id']}/revoke", headers=holder.headers, json={})

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["generations_taken_down"] == 2
    down = _generations(client, requester, taken_down="true")["items"]
    assert {(g["id"], g["taken_down"]["grant_id"]) for g in down} == {
        (under_old, old_grant),
        (under_new, new_grant),
    }
    assert not _served(client, requester, under_old)
    assert not _served(client, requester, under_new)
    assert _served(client, requester, kept)
    uses = _usage(client, holder, character["id"], taken_down="true")
    assert sorted(u["generation_id"] for u in uses) == sorted([under_old, under_new])
    # Nothing is taken down twice: revoking the other asset later counts only its own clip.
    again = client.post(f"/v1/assets/{comet['id']}/revoke", headers=holder.headers, json={})
    assert again.json()["generations_taken_down"] == 1


@pytest.mark.parametrize("deleting", ["the asset", "the account"])
def test_deleting_the_asset_or_its_owners_account_takes_down_its_clips(
    client, holder, requester, character, clip_pipeline, deleting
):
    generation_id = _released(client, requester, clip_pipeline, "Nova Knight at dawn")

    if deleting == "the asset":
        deleted = client.delete(f"/v1/assets/{character['id']}", headers=holder.headers)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["revocation"]["generations_taken_down"] == 1
        [use] = _usage(client, holder, character["id"], taken_down="true")
        assert use["generation_id"] == generation_id
    else:
        deleted = client.post(
            "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
        )
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["generations_taken_down"] == 1

    assert not _served(client, requester, generation_id)
    read = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert read["taken_down"]["grant_id"] == character["grant_id"]


def test_the_creators_list_pages_and_filters_by_state(client, requester, clip_pipeline):
    released = [_released(client, requester, clip_pipeline, f"a calm sea {n}") for n in range(3)]
    waiting = queued(client, requester, "a calm lake")

    everything = _generations(client, requester)
    assert [g["id"] for g in everything["items"]] == [waiting, *reversed(released)]
    page = _generations(client, requester, limit=2, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert [g["id"] for g in page["items"]] == [released[2], released[1]]
    assert [g["id"] for g in _generations(client, requester, state="queued")["items"]] == [waiting]
    assert _generations(client, requester, state="released")["total"] == 3
    refused = client.get("/v1/generations", headers=requester.headers, params={"state": "done"})
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"


def _waiting_for_a_lock(engine) -> bool:
    """PostgreSQL: whether some session is waiting for a row lock (the revocation for the
    grant the release holds)."""
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%consent_grant%FOR UPDATE%'"
                )
            ).scalar()
        )


def test_a_release_that_commits_while_a_revocation_waits_for_its_grant_is_taken_down_by_it(
    client, engine, served, holder, requester, character, clip_pipeline, monkeypatch
):
    """The release holds the grant it re-read (``FOR SHARE``) until it commits; a revocation
    arriving meanwhile, on a live server, waits for it, then must see the release's licences."""
    generation_id = queued(client, requester, "Nova Knight at dawn")
    recorded, commit = threading.Event(), threading.Event()
    release = generator.tasks.release

    def release_held_open(session, **values):
        outcome = release(session, **values)
        recorded.set()
        assert commit.wait(timeout=60)
        return outcome

    monkeypatch.setattr(generator.tasks, "release", release_held_open)
    outcome = {}
    runner = threading.Thread(
        target=lambda: outcome.update(
            state=run_job(
                uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline)
            )
        )
    )
    runner.start()
    assert recorded.wait(timeout=120), "the job never reached its release"

    def revoke() -> None:
        with httpx.Client(base_url=served, timeout=60) as http:
            outcome["revoked"] = http.post(
                f"/v1/grants/{character['grant_id']}/revoke", headers=holder.headers, json={}
            )

    revoker = threading.Thread(target=revoke)
    revoker.start()
    if engine.dialect.name == "postgresql":
        while not _waiting_for_a_lock(engine):
            assert revoker.is_alive(), "the revocation did not wait for the release"
            time.sleep(0.01)
    commit.set()
    runner.join(timeout=60)
    revoker.join(timeout=60)

    assert outcome["state"] == JobState.released
    assert outcome["revoked"].status_code == 200, outcome["revoked"].text
    assert outcome["revoked"].json()["generations_taken_down"] == 1
    read = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert read["taken_down"]["grant_id"] == character["grant_id"]
    assert not _served(client, requester, generation_id)


def test_the_migration_takes_down_clips_whose_consent_was_withdrawn_before_it(
    client, settings, holder, requester, character, comet, clip_pipeline
):
    """Revision 0015 flags what was released, then revoked, while takedowns were not stored."""
    withdrawn = _released(client, requester, clip_pipeline, "Nova Knight at dawn")
    kept = _released(client, requester, clip_pipeline, "Captain Comet at noon")
    client.post(f"/v1/grants/{character['grant_id']}/revoke", headers=holder.headers, json={})
    flagged = client.get(f"/v1/generations/{withdrawn}", headers=requester.headers).json()
    command.downgrade(alembic_config(settings.resolved_database_url), "0014")

    upgrade_database(settings.resolved_database_url)

    again = client.get(f"/v1/generations/{withdrawn}", headers=requester.headers).json()
    assert again["taken_down"] == flagged["taken_down"] is not None
    assert not _served(client, requester, withdrawn)
    assert _served(client, requester, kept)
