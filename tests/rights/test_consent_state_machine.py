"""Grants, revocations, policy changes, enrolments and deletions in any order (a hypothesis
state machine).

After every step the API agrees with a simple model of which grants are active and which
likeness holds the enrolled face, every change has its receipt, and the audit chain
verifies. No step may answer 500: frames sent to an enrolment whose likeness was deleted
meanwhile get a problem, like any other refusal. Enrolments use real photos and the real
dlib model (still photos accepted: the liveness check has tests of its own).
"""

import shutil
import tempfile
import uuid
from pathlib import Path

from faces import FACES_DIR
from factories import OPEN_POLICY, sign_up
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from sqlmodel import Session, func, select

from audit.service import verify_chain
from clearhouse.app import create_app
from clearhouse.migrations import upgrade_database
from clearhouse.settings import Settings
from likeness.models import FaceTemplateRecord
from rights.models import ConsentReceipt

_TEMPLATE = Path(tempfile.mkdtemp()) / "template.db"
upgrade_database(f"sqlite:///{_TEMPLATE}")
_FRAMES = [
    ("files", (name, (FACES_DIR / name).read_bytes(), "image/jpeg"))
    for name in ("obama.jpg", "obama2.jpg", "obama_partial_face.jpg")
]


class ConsentMachine(RuleBasedStateMachine):
    assets = Bundle("assets")
    grants = Bundle("grants")
    enrolments = Bundle("enrolments")

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
                    liveness_required=False,
                )
            )
        )
        self.client.__enter__()
        self.holder = sign_up(self.client)
        self.admits: dict[str, bool] = {}  # asset -> does its policy in force admit anyone
        self.active: dict[str, bool] = {}  # grant -> active in the model
        self.grant_asset: dict[str, str] = {}
        self.likenesses: set[str] = set()
        self.enrolment_likeness: dict[str, str] = {}
        self.enrolment_open: dict[str, bool] = {}
        self.face_holder: str | None = None  # the live likeness the photos' face is enrolled as
        self.changes = 0  # grants and revocations: each has a receipt
        self.registered = 0

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        shutil.rmtree(self.folder)

    def _post(self, path: str, body: dict | None = None):
        return self.client.post(path, headers=self.holder.headers, json=body or {})

    @initialize(target=enrolments)
    def an_open_enrolment(self):
        """Every run starts with a likeness being enrolled, so that its deletion mid-enrolment
        comes up often."""
        return self.open_enrolment(self.register(kind="likeness"))

    @rule(target=assets, kind=st.sampled_from(["style", "likeness"]))
    def register(self, kind):
        self.registered += 1
        response = self._post(
            "/v1/assets", {"kind": kind, "handle": f"s{self.registered}x", "name": "An asset"}
        )
        assert response.status_code == 201
        self.admits[response.json()["id"]] = False
        if kind == "likeness":
            self.likenesses.add(response.json()["id"])
        return response.json()["id"]

    @rule(target=enrolments, asset=assets)
    def open_enrolment(self, asset):
        response = self._post(f"/v1/assets/{asset}/enrolments")
        if asset not in self.admits:
            assert response.status_code == 404
        elif asset not in self.likenesses:
            assert response.status_code == 400
        else:
            assert response.status_code == 201
            enrolment = response.json()["id"]
            self.enrolment_likeness[enrolment], self.enrolment_open[enrolment] = asset, True
            return enrolment
        return None

    @rule(enrolment=enrolments)
    def send_frames(self, enrolment):
        if enrolment is None:
            return
        likeness = self.enrolment_likeness[enrolment]
        response = self.client.post(
            f"/v1/enrolments/{enrolment}/frames", headers=self.holder.headers, files=_FRAMES
        )
        if likeness not in self.admits:  # deleted since the enrolment opened
            assert 400 <= response.status_code < 500, response.text
            assert response.headers["content-type"] == "application/problem+json"
        elif not self.enrolment_open[enrolment]:
            assert response.status_code == 409
            assert response.json()["type"].endswith("/enrolment-closed")
        elif self.face_holder not in (None, likeness):
            assert response.status_code == 409  # one face, one likeness per owner
            assert response.json()["type"].endswith("/face-already-enrolled")
        else:
            assert response.status_code == 200, response.text
            self.enrolment_open[enrolment], self.face_holder = False, likeness

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
        self._delete(asset)

    @rule(enrolment=enrolments)
    def delete_the_likeness_being_enrolled(self, enrolment):
        if enrolment is not None:
            self._delete(self.enrolment_likeness[enrolment])

    def _delete(self, asset):
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
        if self.face_holder == asset:  # its face is shredded: enrolling it again is allowed
            self.face_holder = None

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
            for likeness in self.likenesses & self.admits.keys():
                templates = session.exec(
                    select(func.count())
                    .select_from(FaceTemplateRecord)
                    .where(FaceTemplateRecord.likeness_id == uuid.UUID(likeness))
                ).one()
                assert (templates > 0) == (likeness == self.face_holder), likeness


ConsentMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_consent_in_any_order = ConsentMachine.TestCase
