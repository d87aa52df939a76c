"""The face index across processes: rebuilt from the vault on start, and kept up to date
with enrolments and deletions made through another process. The real dlib model on the
photos in ../shared/data/faces (Barack Obama three times, Joe Biden once)."""

import pytest
from enrolling import OBAMA, enrol, matched, scan
from factories import create_asset, sign_up
from fastapi.testclient import TestClient

from clearhouse.app import create_app

pytestmark = pytest.mark.still_photos


def test_the_index_is_rebuilt_from_the_vault_on_start(stills_settings, holder, client):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    with TestClient(create_app(stills_settings)) as restarted:
        assert restarted.app.state.likeness.index.count() == 3
        assert matched(scan(restarted, holder, "obama.jpg")) == {asset["id"]}


def test_two_processes_see_each_others_enrolments_and_deletions(stills_settings, holder, client):
    """Two apps on one database stand for two API processes, each with its own index."""
    with TestClient(create_app(stills_settings)) as other:
        asset = create_asset(client, holder, kind="likeness")
        enrol(client, holder, asset["id"], OBAMA)
        assert matched(scan(other, holder, "obama.jpg")) == {asset["id"]}
        # A second account enrolling the same face through the other process is caught.
        impostor = sign_up(other)
        theirs = create_asset(other, impostor, kind="likeness")
        assert enrol(other, impostor, theirs["id"], OBAMA).json()["enrolment"]["status"] == (
            "conflict"
        )
        assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
        assert matched(scan(other, holder, "obama.jpg")) == set()
        assert other.app.state.likeness.index.count() == 0  # rebuilt, not only filtered
