"""Handles that cannot impersonate: look-alikes refused, retired handles kept, names readable."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from factories import create_asset, sign_up
from sqlalchemy import text

from clearhouse.db import utcnow
from clearhouse.names import fold

LOOK_ALIKES = ["captain.comet", "captain_c0met", "captaincomet", "captain__comet", "captain_cornet"]


def _register(client, user, handle: str, **fields):
    body = {"kind": "character", "handle": handle, "name": "Captain Comet", **fields}
    return client.post("/v1/assets", headers=user.headers, json=body)


@pytest.mark.parametrize(
    "handle", [*LOOK_ALIKES, "@Captain_Comet", "CAPTA1N_C0MET", "c4pta1n_c0m37", "captain_c0m3t"]
)
def test_a_look_alike_of_a_live_handle_is_refused(client, holder, other_holder, handle):
    create_asset(client, holder, handle="captain_comet")
    response = _register(client, other_holder, handle)
    assert response.status_code == 409, response.text
    assert "reads like a handle in use or recently retired" in response.json()["detail"]
    assert client.get("/v1/assets", headers=other_holder.headers).json()["total"] == 0


def test_different_handles_are_still_free(client, holder, other_holder):
    create_asset(client, holder, handle="captain_comet")
    for handle in ("captain_planet", "comet_captain", "major_comet"):
        assert _register(client, other_holder, handle).status_code == 201, handle


def test_a_deleted_handle_stays_reserved_until_its_reservation_runs_out(
    client, holder, other_holder, engine
):
    asset = create_asset(client, holder, handle="captain_comet")
    assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
    for handle in ("captain_comet", "captain.c0met"):
        assert _register(client, other_holder, handle).status_code == 409
        assert _register(client, holder, handle).status_code == 409  # for its old owner too

    with engine.begin() as connection:
        connection.execute(
            text("UPDATE handle_reservation SET reserved_until = :past"),
            {"past": utcnow() - timedelta(seconds=1)},
        )
    assert _register(client, other_holder, "captain_comet").status_code == 201


def test_the_reservation_lasts_the_configured_days(client, holder, session, settings):
    from sqlmodel import select

    from rights.models import HandleReservation

    asset = create_asset(client, holder, handle="captain_comet")
    before = utcnow()
    client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers)
    reservation = session.exec(select(HandleReservation)).one()
    assert reservation.reserved_until - before >= timedelta(days=settings.handle_reserved_days)


def test_a_handle_given_up_by_a_rename_stays_reserved_but_its_asset_may_take_it_back(
    client, holder, other_holder
):
    asset = create_asset(client, holder, handle="captain_comet")
    renamed = client.patch(
        f"/v1/assets/{asset['id']}", headers=holder.headers, json={"handle": "comet_returns"}
    )
    assert renamed.status_code == 200
    assert _register(client, other_holder, "captain_comet").status_code == 409
    back = client.patch(
        f"/v1/assets/{asset['id']}", headers=holder.headers, json={"handle": "captain.comet"}
    )
    assert back.status_code == 200, back.text
    assert _register(client, other_holder, "comet_returns").status_code == 409


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "   "},
        {"name": "\u200b\u200c\u200d"},
        {"name": "\u3164"},  # a Hangul filler: a letter that draws nothing
        {"name": "Captain \u202etemoC"},
        {"name": "Captain \u2067Comet\u2069"},
        {"aliases": ["The Comet", " \u2060 "]},
        {"aliases": ["The \u202dComet"]},
    ],
)
def test_names_and_aliases_must_be_visible_and_in_reading_order(client, holder, fields):
    response = _register(client, holder, "readable", **fields)
    assert response.status_code == 422, response.text
    asset = create_asset(client, holder)
    changed = client.patch(f"/v1/assets/{asset['id']}", headers=holder.headers, json=fields)
    assert changed.status_code == 422


def test_aliases_that_read_alike_are_kept_once(client, holder):
    aliases = ["The Comet", "the c0met", "THE-COMET", "Comet", "The Cömet", "comet"]
    response = _register(client, holder, "captain_comet", aliases=aliases)
    assert response.status_code == 201, response.text
    assert response.json()["aliases"] == ["The Comet", "Comet"]


def test_the_folding_is_one_function_for_names_too():
    """rights/matching (the IP text check) folds names and aliases with the same function."""
    assert len({fold(h) for h in ["captain_comet", *LOOK_ALIKES]}) == 1
    assert fold("C\u0430pt\u0430in C\u043emet") == fold("captain comet")  # Cyrillic a and o
    assert fold("5up3r_574r") == fold("Super Star")  # 5 s, 3 e, 7 t, 4 a
    assert fold("Captain Comet") != fold("Captain Planet")


RACERS = 6


def test_look_alike_handles_registered_at_one_moment_make_one_winner(served):
    """Six holders register six look-alikes of one handle at once, against a live server."""
    handles = ["captain_comet", *LOOK_ALIKES][:RACERS]
    with httpx.Client(base_url=served, timeout=30) as http:
        racers = [sign_up(http) for _ in handles]
    start = threading.Barrier(RACERS)

    def register(n: int) -> httpx.Response:
        with httpx.Client(base_url=served, timeout=30) as client:
            start.wait()
            return _register(client, racers[n], handles[n])

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(register, range(RACERS)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * (RACERS - 1), [
        r.text for r in responses
    ]
    with httpx.Client(base_url=served, timeout=30) as http:
        owned = [http.get("/v1/assets", headers=r.headers).json()["total"] for r in racers]
    assert sum(owned) == 1
