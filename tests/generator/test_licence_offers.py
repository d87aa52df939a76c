"""Licence offers for blocked outputs: the owner of what blocked an output offers its creator a
licence at their policy's price; accepted, our generator's held clip is released with its
provenance and paid like any release, once; declined, expired or its consent withdrawn, the
output stays blocked. Nobody reads or answers another's offer."""

import uuid
from datetime import timedelta
from functools import partial

import pytest
from claiming import verified
from clearing import check_output, licensed, usage
from factories import made_before_verification, refused_as_unverified, sign_up, verify_again
from generating import USD_POLICY, charges_and_licences
from offering import answer, blocked_generation, offer, third_party_clearance_showing
from sqlalchemy import update
from sqlmodel import Session, func, select

from audit.models import AuditEntry
from clearhouse.db import snapshot_session, utcnow
from generator.held_outputs import discard_lapsed_held_outputs, held_clip
from generator.models import GenerationJob
from generator.provenance import read_provenance
from generator.signing_identity import CA_CERTIFICATE
from licensing.offers.models import LicenceOffer
from payouts.accounts import payable, wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import JournalEntry

# USD 1.50 a use + 0.10 a second: the clip is 0.5 s long, billed as 1 s.
OFFERED_PRICE = 160


def kinds_of_notices(client, user) -> list[str]:
    return [
        notice["kind"] for notice in client.get("/v1/notices", headers=user.headers).json()["items"]
    ]


def usage_entries(engine, generation_id: str) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(JournalEntry.generation_id == uuid.UUID(generation_id))
        ).one()


@pytest.fixture
def blocked(client, session, holder, requester, clip_pipeline) -> dict:
    made = blocked_generation(client, holder, requester, clip_pipeline)
    verified(client, session, holder, made["character"]["id"])
    return made


def test_an_accepted_offer_releases_the_held_output_signed_and_pays_it_once(
    client, engine, settings, holder, requester, blocked, tmp_path
):
    generation_id = blocked["generation_id"]
    made = offer(client, holder, blocked["use"])
    assert made.status_code == 201, made.text
    offered = made.json()
    assert (offered["state"], offered["price_minor"], offered["currency"]) == (
        "pending",
        OFFERED_PRICE,
        "USD",
    )
    assert sum(line["amount_minor"] for line in offered["lines"]) == OFFERED_PRICE
    assert "offer.made" in kinds_of_notices(client, requester)
    [listed] = client.get("/v1/licence-offers", headers=requester.headers).json()["items"]
    assert listed["id"] == offered["id"] and listed["generation_id"] == generation_id
    before = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    wallet_before = _balance(engine, wallet(requester.id, "USD"))

    accepted = answer(client, requester, offered["id"], "accept")

    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["state"], accepted.json()["generation_state"]) == (
        "accepted",
        "released",
    )
    read = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert read["state"] == "released"
    [licence] = read["licences"]
    assert (licence["asset_id"], licence["price_minor"]) == (
        blocked["character"]["id"],
        OFFERED_PRICE,
    )
    clearance = client.get(f"/v1/clearances/{before['clearance_id']}", headers=requester.headers)
    charged = read["charge"]["amount_minor"]
    assert charged == clearance.json()["quote"]["total_minor"] + OFFERED_PRICE
    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 200
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video.content)
    provenance = read_provenance(
        clip, trust_anchors_pem=(settings.key_dir / CA_CERTIFICATE).read_bytes()
    )
    assert provenance.trusted
    assert [stated["asset_id"] for stated in provenance.clearance["licences"]] == [
        blocked["character"]["id"]
    ]
    assert not (settings.generations_dir / f"{generation_id}.held.mp4").exists()
    # Paid like any release: the creator's wallet pays the charge, the holder earns a share.
    assert _balance(engine, wallet(requester.id, "USD")) == wallet_before - charged
    assert _balance(engine, payable(holder.id, "USD")) > 0
    assert charges_and_licences(engine, generation_id) == (1, 1)
    assert usage_entries(engine, generation_id) == 1

    again = answer(client, requester, offered["id"], "accept")

    assert again.status_code == 200 and again.json()["state"] == "accepted"
    assert usage_entries(engine, generation_id) == 1
    assert charges_and_licences(engine, generation_id) == (1, 1)
    _ledger_holds(engine)
    assert {"offer.accepted", "use.released"} <= set(kinds_of_notices(client, holder))
    assert _audited(engine, blocked["character"]["id"]) == [
        "licence_offer.made",
        "licence_offer.accepted",
    ]
    [use] = usage(client, holder, blocked["character"]["id"])
    assert use["state"] == "released"


def test_a_declined_offer_leaves_the_output_blocked_and_tells_the_owner(
    client, engine, holder, requester, blocked
):
    offered = offer(client, holder, blocked["use"]).json()

    declined = answer(client, requester, offered["id"], "decline")

    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    refused = answer(client, requester, offered["id"], "accept")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("licence-offer-closed")
    read = client.get(f"/v1/generations/{blocked['generation_id']}", headers=requester.headers)
    assert read.json()["state"] == "blocked"
    assert charges_and_licences(engine, blocked["generation_id"]) == (0, 0)
    assert "offer.declined" in kinds_of_notices(client, holder)
    assert _audited(engine, blocked["character"]["id"]) == [
        "licence_offer.made",
        "licence_offer.declined",
    ]
    # Declined, the owner may offer again.
    assert offer(client, holder, blocked["use"]).status_code == 201


def test_an_expired_offer_cannot_be_accepted(client, engine, holder, requester, blocked):
    offered = offer(client, holder, blocked["use"]).json()
    assert offer(client, holder, blocked["use"]).status_code == 409  # one live offer at a time
    with Session(engine) as session:  # its time passes
        session.exec(
            update(LicenceOffer)
            .where(LicenceOffer.id == uuid.UUID(offered["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()

    [listed] = client.get("/v1/licence-offers", headers=requester.headers).json()["items"]
    assert listed["state"] == "expired"
    refused = answer(client, requester, offered["id"], "accept")
    assert refused.status_code == 409 and "expired" in refused.json()["detail"]
    assert charges_and_licences(engine, blocked["generation_id"]) == (0, 0)


def test_a_consent_withdrawn_after_the_offer_makes_it_unusable(
    client, engine, holder, requester, blocked
):
    offered = offer(client, holder, blocked["use"]).json()
    grants = client.get(
        f"/v1/assets/{blocked['character']['id']}/grants", headers=holder.headers
    ).json()["items"]
    for granted in grants:
        revoked = client.post(
            f"/v1/grants/{granted['id']}/revoke", headers=holder.headers, json={"reason": "no"}
        )
        assert revoked.status_code == 200, revoked.text

    refused = answer(client, requester, offered["id"], "accept")

    assert refused.status_code == 409
    assert refused.json()["type"].endswith("licence-offer-unusable")
    read = client.get(f"/v1/generations/{blocked['generation_id']}", headers=requester.headers)
    assert read.json()["state"] == "blocked"
    assert charges_and_licences(engine, blocked["generation_id"]) == (0, 0)


def _offers(engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(str(o.id), o.status.value) for o in session.exec(select(LicenceOffer)).all()]


def test_only_verified_addresses_offer_and_accept_a_licence(
    client, engine, holder, requester, blocked
):
    """An offer reaches the requester, and accepting it pays the owner: neither is open to an
    address nobody verified, and nothing is stored or charged when refused."""
    made_before_verification(engine, holder)
    refused_as_unverified(offer(client, holder, blocked["use"]))
    assert _offers(engine) == []
    assert "offer.made" not in kinds_of_notices(client, requester)

    verify_again(client, holder)
    offered = offer(client, holder, blocked["use"])
    assert offered.status_code == 201, offered.text
    made_before_verification(engine, requester)
    refused_as_unverified(answer(client, requester, offered.json()["id"], "accept"))
    assert _offers(engine) == [(offered.json()["id"], "pending")]
    assert charges_and_licences(engine, blocked["generation_id"]) == (0, 0)
    assert "offer.accepted" not in kinds_of_notices(client, holder)

    verify_again(client, requester)
    accepted = answer(client, requester, offered.json()["id"], "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["generation_state"] == "released"


def test_nobody_offers_or_answers_for_another(client, holder, requester, blocked):
    stranger_holder, stranger_creator = sign_up(client), sign_up(client, role="creator")
    assert offer(client, stranger_holder, blocked["use"]).status_code == 404
    offered = offer(client, holder, blocked["use"]).json()
    for what in ("accept", "decline"):
        assert answer(client, stranger_creator, offered["id"], what).status_code == 404
    for user in (stranger_creator, stranger_holder):
        read = client.get(f"/v1/licence-offers/{offered['id']}", headers=user.headers)
        assert read.status_code == 404
        assert client.get("/v1/licence-offers", headers=user.headers).json()["items"] == []
    assert (
        client.get("/v1/licence-offers/made", headers=stranger_holder.headers).json()["items"] == []
    )
    [made] = client.get("/v1/licence-offers/made", headers=holder.headers).json()["items"]
    assert made["id"] == offered["id"]


def test_accepting_needs_the_credits_a_clearance_would(
    client, engine, settings, holder, requester, clip_pipeline
):
    made = blocked_generation(client, holder, requester, clip_pipeline, seed=11)
    expensive = {**USD_POLICY, "price": {"currency": "USD", "per_use_minor": 10_000_000}}
    licensed(client, holder, made["character"]["id"], expensive)
    offered = offer(client, holder, made["use"]).json()
    assert offered["price_minor"] >= 10_000_000

    refused = answer(client, requester, offered["id"], "accept")

    assert refused.status_code == 402, refused.text
    assert charges_and_licences(engine, made["generation_id"]) == (0, 0)
    [listed] = client.get("/v1/licence-offers", headers=requester.headers).json()["items"]
    assert listed["state"] == "pending"


def test_a_third_party_output_passes_its_next_check_once_the_offer_is_accepted(
    client, engine, holder, requester
):
    cleared, character, frame = third_party_clearance_showing(client, holder, requester, seed=13)

    def check():
        return check_output(client, requester, cleared["id"], [frame]).json()

    assert check()["verdict"] == "release_blocked"
    [use] = [u for u in usage(client, holder, character["id"]) if u["found_in"] == "output"]
    offered = offer(client, holder, use).json()
    assert offered["generation_id"] is None
    assert check()["verdict"] == "release_blocked"  # offered, not accepted yet

    assert answer(client, requester, offered["id"], "accept").status_code == 200

    passed = check()
    assert passed["verdict"] == "release_allowed", passed
    assert [found["asset_id"] for found in passed["found"]] == [character["id"]]
    # Its release charges the accepted licence with the clearance's own, once.
    assert passed["charged"] == {
        "amount_minor": cleared["quote"]["total_minor"] + offered["price_minor"],
        "currency": "USD",
    }
    assert check()["charged"] is None
    with Session(engine) as session:
        [entry] = session.exec(
            select(JournalEntry).where(JournalEntry.clearance_id == uuid.UUID(cleared["id"]))
        ).all()
    assert entry.idempotency_key == f"release:clearance:{cleared['id']}"
    _ledger_holds(engine)


def _balance(engine, ref) -> int:
    with Session(engine) as session:
        return balance_of(session, ref)


def _ledger_holds(engine) -> None:
    with snapshot_session(engine) as session:
        report = check_ledger(session)
    assert report.ok, report


def _audited(engine, asset_id: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEntry.action)
                .where(
                    AuditEntry.asset_id == uuid.UUID(asset_id),
                    AuditEntry.action.startswith("licence_offer."),
                )
                .order_by(AuditEntry.seq)
            ).all()
        )


def test_a_blocked_outputs_clip_is_kept_only_for_the_window_to_offer(
    client, engine, holder, requester, blocked
):
    # The clip may show someone who did not consent: kept for offers, then deleted.
    settings = client.app.state.settings
    generations_dir, keep = settings.generations_dir, settings.held_output_hours
    job_id = uuid.UUID(blocked["generation_id"])
    clip = held_clip(generations_dir, job_id)
    sweep = partial(
        discard_lapsed_held_outputs, engine, generations_dir=generations_dir, keep_hours=keep
    )
    assert sweep(now=utcnow()) == [] and clip.exists()
    offered = offer(client, holder, blocked["use"]).json()
    with Session(engine) as session:  # the window to offer passes
        session.exec(
            update(GenerationJob)
            .where(GenerationJob.id == job_id)
            .values(finished_at=utcnow() - timedelta(hours=keep + 1))
        )
        session.commit()
    # An offer made in time keeps the clip while it is open; answered, the clip goes.
    assert sweep(now=utcnow()) == [] and clip.exists()
    assert answer(client, requester, offered["id"], "decline").status_code == 200
    assert sweep(now=utcnow()) == [job_id] and not clip.exists()
    # Past its window no offer can be made; the output stays blocked.
    late = offer(client, holder, blocked["use"])
    assert late.status_code == 409 and "no longer kept" in late.json()["detail"]
