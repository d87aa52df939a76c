"""Disabling an account withdraws all its consent, even while its owner is granting: tried
against a live `clearhouse serve` on both databases, granters and the admin released
together by a barrier. No grant may outlive the disable call."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from factories import PASSWORD, create_asset, promote, set_policy, sign_up
from sqlmodel import Session

from clearhouse.db import build_engine

GRANTERS = 4


def test_no_grant_outlives_the_disable_that_withdrew_them(served, settings):
    with httpx.Client(base_url=served, timeout=30) as http:
        holder = sign_up(http)
        assets = [create_asset(http, holder) for _ in range(GRANTERS)]
        for asset in assets:
            set_policy(http, holder, asset["id"])
        admin = sign_up(http)
    engine = build_engine(settings.resolved_database_url)
    with Session(engine) as session:
        promote(session, admin, "admin")
    engine.dispose()

    start, disabled, granted = threading.Barrier(GRANTERS + 1), threading.Event(), []

    def grant_until_disabled(asset_id: str) -> list[int]:
        statuses = []
        with httpx.Client(base_url=served, timeout=30) as granter:
            start.wait()
            # Keep granting until a request starts after the disable returned.
            while True:
                after = disabled.is_set()
                answer = granter.post(
                    f"/v1/assets/{asset_id}/grants", headers=holder.headers, json={}
                )
                statuses.append(answer.status_code)
                if answer.status_code == 201:
                    granted.append(asset_id)
                if after:
                    return statuses

    with ThreadPoolExecutor(max_workers=GRANTERS) as pool:
        futures = [pool.submit(grant_until_disabled, asset["id"]) for asset in assets]
        start.wait()
        deadline = time.monotonic() + 20
        while len(granted) < GRANTERS and time.monotonic() < deadline:
            time.sleep(0.005)
        with httpx.Client(base_url=served, timeout=30) as http:
            response = http.patch(
                f"/v1/admin/accounts/{holder.id}", headers=admin.headers, json={"disabled": True}
            )
        disabled.set()
        statuses = [status for future in futures for status in future.result()]

    assert response.status_code == 200, response.text
    assert len(granted) >= GRANTERS, "no grant was made before the disable; proved nothing"
    assert set(statuses) <= {201, 401}, statuses
    # Enable the account again to look: every grant it ever made is withdrawn.
    with httpx.Client(base_url=served, timeout=30) as http:
        http.patch(
            f"/v1/admin/accounts/{holder.id}", headers=admin.headers, json={"disabled": False}
        )
        token = http.post("/v1/auth/token", data={"username": holder.email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        active = [
            grant["id"]
            for asset in assets
            for grant in http.get(
                f"/v1/assets/{asset['id']}/grants?status=active&limit=100", headers=headers
            ).json()["items"]
        ]
    assert active == [], f"{len(active)} grants outlived the disable of their account"
