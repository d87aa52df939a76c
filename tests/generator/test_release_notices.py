"""What the owner hears of a generation our generator ran: its release (with the fee), its
cancellation when consent was withdrawn before release (nothing charged), and the takedown a
later withdrawal caused, which its creator hears of too (their charge returned); the creator's
webhook hears that a clearance became unusable while its job was still running."""

import uuid

from generating import RevokingAfterGenerating, generator_runtime, queued

from generator.tasks import run_job


def notices(client, user) -> list[dict]:
    """The user's notices of uses and consent (the fixture's character was verified by staff
    first: that notice, ``claim.decided``, is not about a use)."""
    answer = client.get("/v1/notices", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return [n for n in answer.json()["items"] if n["kind"] != "claim.decided"]


def test_the_owner_hears_of_the_release_and_both_hear_of_the_takedown_that_followed(
    client, holder, requester, character, clip_pipeline
):
    generation_id = queued(client, requester, "Nova Knight at dawn")
    assert run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline)) == (
        "released"
    )
    [released] = notices(client, holder)
    assert released["kind"] == "use.released"
    assert released["facts"]["handle"] == "nova_knight"
    assert released["facts"]["generation_id"] == generation_id
    assert released["facts"]["fee_minor"] > 0 and released["facts"]["currency"] == "USD"

    client.post(f"/v1/grants/{character['grant_id']}/revoke", headers=holder.headers, json={})
    withdrawn = notices(client, holder)[0]
    assert withdrawn["kind"] == "consent.withdrawn"
    assert withdrawn["facts"]["generations_taken_down"] == [generation_id]
    assert withdrawn["facts"]["clearances_made_unusable"] == 0  # its generation had ended
    [taken_down] = notices(client, requester)
    assert taken_down["kind"] == "generation.taken_down"
    assert taken_down["facts"]["generation_id"] == generation_id
    charge = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert taken_down["facts"]["charge_minor"] == charge["charge"]["amount_minor"] > 0
    assert taken_down["facts"]["charge_returned"] is True


def test_a_withdrawal_while_the_job_runs_cancels_it_and_both_sides_hear(
    client, holder, requester, character, clip_pipeline
):
    generation_id = queued(client, requester, "Nova Knight at dawn")

    def revoke() -> None:
        answer = client.post(
            f"/v1/grants/{character['grant_id']}/revoke", headers=holder.headers, json={}
        )
        assert answer.status_code == 200, answer.text

    pipeline = RevokingAfterGenerating(clip_pipeline, revoke)
    state = run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, pipeline))

    assert state == "cancelled"
    assert [n["kind"] for n in notices(client, holder)] == ["use.cancelled", "consent.withdrawn"]
    cancelled, withdrawn = notices(client, holder)
    assert cancelled["facts"]["fee_minor"] == 0
    assert withdrawn["facts"]["clearances_made_unusable"] == 1
    [told] = notices(client, requester)
    assert told["kind"] == "clearance.revoked" and told["facts"]["generation_id"] == generation_id
