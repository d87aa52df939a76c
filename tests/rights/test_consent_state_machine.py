"""Grants, revocations, policy changes and deletions in any order (a hypothesis state machine).

After every step the API agrees with a simple model of which grants are active, every
change has its receipt, and the audit chain verifies.
"""

import shutil
import tempfile
from pathlib import Path

from factories import OPEN_POLICY, sign_up
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from sqlmodel import Session, func, select

from clearhouse.app import create_app
from clearhouse.migrations import upgrade_database
from clearhouse.settings import Settings
from rights.audit import verify_chain
from rights.models import ConsentReceipt

_TEMPLATE = Path(tempfile.mkdtemp()) / "template.db"
upgrade_database(f"sqlite:///{_TEMPLATE}")


class ConsentMachine(RuleBasedStateMachine):
    assets = Bundle("assets")
    grants = Bundle("grants")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        shutil.copy(_TEMPLATE, self.folder / "db.sqlite")
        self.client = TestClient(
            create_app(
                Settings(
                    data_dir=self.folder,
                    database_url=f"sqlite:///{self.folder / 'db.sqlite'}",
                    migrate_on_start=False,
                    password_hash_time_cost=1,
                    password_hash_memory_kib=1024,
                )
            )
        )
        self.client.__enter__()
        self.holder = sign_up(self.client)
        self.admits: dict[str, bool] = {}  # asset -> does its policy in force admit anyone
        self.active: dict[str, bool] = {}  # grant -> active in the model
        self.grant_asset: dict[str, str] = {}
        self.changes = 0  # grants and revocations: each has a receipt
        self.registered = 0

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        shutil.rmtree(self.folder)

    def _post(self, path: str, body: dict | None = None):
        return self.client.post(path, headers=self.holder.headers, json=body or {})

    @rule(target=assets)
    def register(self):
        self.registered += 1
        response = self._post(
            "/v1/assets", {"kind": "style", "handle": f"s{self.registered}x", "name": "A style"}
        )
        assert response.status_code == 201
        self.admits[response.json()["id"]] = False
        return response.json()["id"]

    @rule(asset=assets, open_=st.booleans())
    def set_policy(self, asset, open_):
        body = OPEN_POLICY if open_ else {"audience": "nobody"}
        response = self._post(f"/v1/assets/{asset}/policies", body)
        if asset not in self.admits:  # deleted
            assert response.status_code == 404
            return
        assert response.status_code == 201
        self.admits[asset] = open_

    @rule(target=grants, asset=assets)
    def grant(self, asset):
        response = self._post(f"/v1/assets/{asset}/grants")
        if asset not in self.admits:
            assert response.status_code == 404
        elif not self.admits[asset]:
            assert response.status_code == 409
        else:
            assert response.status_code == 201
            grant_id = response.json()["grant"]["id"]
            self.active[grant_id], self.grant_asset[grant_id] = True, asset
            self.changes += 1
            return grant_id
        return None

    @rule(grant=grants)
    def revoke(self, grant):
        if grant is None:
            return
        response = self._post(f"/v1/grants/{grant}/revoke")
        assert response.status_code == (200 if self.active[grant] else 409)
        if self.active[grant]:
            self.changes += 1
        self.active[grant] = False

    @rule(asset=assets)
    def revoke_all(self, asset):
        response = self._post(f"/v1/assets/{asset}/revoke")
        if asset not in self.admits:
            assert response.status_code == 404
            return
        expected = {g for g, a in self.grant_asset.items() if a == asset and self.active[g]}
        assert {g["id"] for g in response.json()["grants"]} == expected
        for grant in expected:
            self.active[grant] = False
        self.changes += len(expected)

    @rule(asset=consumes(assets))
    def delete(self, asset):
        response = self.client.delete(f"/v1/assets/{asset}", headers=self.holder.headers)
        if asset not in self.admits:
            assert response.status_code == 404
            return
        assert response.status_code == 200
        revoked = {g["id"] for g in response.json()["revocation"]["grants"]}
        assert revoked == {g for g, a in self.grant_asset.items() if a == asset and self.active[g]}
        for grant in revoked:
            self.active[grant] = False
        self.changes += len(revoked)
        del self.admits[asset]

    @invariant()
    def the_api_agrees_with_the_model_and_the_log_verifies(self):
        for grant, active in self.active.items():
            state = self.client.get(f"/v1/grants/{grant}", headers=self.holder.headers)
            assert state.json()["state"] == ("active" if active else "revoked")
        with Session(self.client.app.state.engine) as session:
            assert session.exec(select(func.count()).select_from(ConsentReceipt)).one() == (
                self.changes
            )
            assert verify_chain(session).ok


ConsentMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_consent_in_any_order = ConsentMachine.TestCase
