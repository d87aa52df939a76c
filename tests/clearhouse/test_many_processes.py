"""Two `clearhouse serve` processes on one database, each with its own catalogues in memory: a
change made through one counts in the other at once, and a rate limit holds across both.

On PostgreSQL a process hears of another's changes on the change channel (clearhouse.changes)
and trusts what it holds otherwise; a clearance reads the counters anyway. On SQLite every use
reads the counters."""

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
from clearing import USD_POLICY, clear, decision
from conftest import REDIS_URL
from enrolling import OBAMA, enrol, matched, photo, scan
from factories import PASSWORD, create_asset, grant, set_policy, sign_up
from live_server import clearhouse_server

from clearhouse.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _two_servers(stack: ExitStack, settings: Settings, tmp_path: Path, **environment):
    """Two live servers on ``settings``' database; a client for each."""
    return [
        stack.enter_context(
            httpx.Client(
                base_url=stack.enter_context(
                    clearhouse_server(settings, log=tmp_path / f"{n}.log", environment=environment)
                ).base_url,
                timeout=300,
            )
        )
        for n in range(2)
    ]


def test_a_revocation_through_one_process_denies_a_clearance_through_the_other(settings, tmp_path):
    with ExitStack() as stack:
        one, other = _two_servers(stack, settings, tmp_path)
        holder, creator = sign_up(one), sign_up(other, role="creator")
        # The other process has its text catalogue loaded and trusts it from here.
        assert decision(other, creator, "waves on a quiet beach")["outcome"] == "cleared"
        asset = create_asset(one, holder, handle="captain_test")
        set_policy(one, holder, asset["id"], USD_POLICY)
        for _ in range(3):
            grant_id = grant(one, holder, asset["id"])["grant"]["id"]
            cleared = decision(other, creator, "Captain Test sails at dawn")
            assert cleared["outcome"] == "cleared"
            assert [touched["asset_id"] for touched in cleared["assets"]] == [asset["id"]]
            revoked = one.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
            assert revoked.status_code == 200, revoked.text
            assert decision(other, creator, "Captain Test sails at dawn")["outcome"] == "denied"


def test_a_face_enrolled_or_deleted_through_one_process_counts_in_the_other(
    stills_settings, tmp_path
):
    with ExitStack() as stack:
        one, other = _two_servers(stack, stills_settings, tmp_path)
        holder, creator = sign_up(one), sign_up(other, role="creator")
        face = [photo("obama.jpg")]
        # The other process has loaded its face index and trusts it from here.
        assert clear(other, creator, "a portrait", face).json()["outcome"] == "cleared"
        assert matched(scan(other, holder, "obama.jpg")) == set()

        likeness = create_asset(one, holder, kind="likeness")
        enrolled = enrol(one, holder, likeness["id"], OBAMA)
        assert enrolled.json()["enrolment"]["status"] == "enrolled", enrolled.text
        # An owner's scan trusts the channel: it finds the face once the change is heard of.
        assert matched(scan(other, holder, "obama.jpg")) == {likeness["id"]}
        # A clearance reads the counter: the face without consent is denied.
        assert clear(other, creator, "a portrait", face).json()["outcome"] == "denied"

        deleted = one.delete(f"/v1/assets/{likeness['id']}", headers=holder.headers)
        assert deleted.status_code == 200, deleted.text
        assert matched(scan(other, holder, "obama.jpg")) == set()
        assert clear(other, creator, "a portrait", face).json()["outcome"] == "cleared"


def test_a_rate_limit_holds_across_two_processes(settings, tmp_path, redis_prefix):
    limit = 4
    with ExitStack() as stack:
        servers = _two_servers(
            stack,
            settings,
            tmp_path,
            CLEARHOUSE_REDIS_URL=REDIS_URL,
            CLEARHOUSE_REDIS_KEY_PREFIX=redis_prefix,
            CLEARHOUSE_SIGN_IN_LIMIT_PER_ACCOUNT=str(limit),
        )
        victim = sign_up(servers[0])
        answers = [
            servers[n % 2]
            .post("/v1/auth/token", data={"username": victim.email, "password": "wrong guess"})
            .status_code
            for n in range(limit + 2)
        ]
        assert answers == [401] * limit + [429, 429]
        # Refused in both processes, the right password too, until the window moves on.
        right = {"username": victim.email, "password": PASSWORD}
        assert [server.post("/v1/auth/token", data=right).status_code for server in servers] == [
            429,
            429,
        ]


def test_several_workers_refuse_to_start_without_redis(tmp_path):
    environment = {
        **os.environ,
        "CLEARHOUSE_DATA_DIR": str(tmp_path),
        "CLEARHOUSE_DATABASE_URL": f"sqlite:///{tmp_path / 'clearhouse.db'}",
    }
    environment.pop("CLEARHOUSE_REDIS_URL", None)
    started = subprocess.run(
        [sys.executable, "-m", "clearhouse", "serve", "--workers", "2", "--port", "1"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2, started.stdout + started.stderr
    assert "CLEARHOUSE_REDIS_URL" in started.stderr
