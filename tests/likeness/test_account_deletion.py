"""Deleting one's account shreds every likeness it enrolled: the data key leaves the key
store, the templates leave the vault and no scan finds the face (the real dlib model)."""

import uuid

import pytest
from enrolling import OBAMA, enrol, matched, scan
from factories import PASSWORD, create_asset, promote, set_policy, sign_up
from sqlmodel import select

from likeness.models import FaceTemplateRecord

pytestmark = pytest.mark.still_photos


def test_deleting_the_account_shreds_its_likenesses(client, holder, session):
    likeness = create_asset(client, holder, kind="likeness")
    assert enrol(client, holder, likeness["id"], OBAMA).status_code == 200
    set_policy(client, holder, likeness["id"])
    moderator = promote(session, sign_up(client), "moderator")
    assert matched(scan(client, moderator, "obama2.jpg")) == {likeness["id"]}
    key_store = client.app.state.likeness.key_store
    assert uuid.UUID(likeness["id"]) in key_store.likeness_ids()

    deleted = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["likenesses_shredded"] == 1
    assert uuid.UUID(likeness["id"]) not in key_store.likeness_ids()
    assert session.exec(select(FaceTemplateRecord)).all() == []
    assert matched(scan(client, moderator, "obama2.jpg")) == set()
