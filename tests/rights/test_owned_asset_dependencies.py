"""The owned-asset dependencies load the asset in the session the route then uses, and only
the history variant finds a deleted asset."""

import pytest
from factories import create_asset, sign_up

from clearhouse.deps import ReadSessionDep, SessionDep
from rights.dependencies import OwnedAsset, OwnedAssetIncludingDeleted, OwnedAssetToChange


@pytest.fixture
def probed_client(client):
    """The app with one probe route per variant, each declaring the session its routes use."""

    @client.app.get("/probe/read/{asset_id}")
    def probe_read(asset: OwnedAsset, session: ReadSessionDep):
        return {"in_routes_session": asset in session}

    @client.app.post("/probe/change/{asset_id}")
    def probe_change(asset: OwnedAssetToChange, session: SessionDep):
        return {"in_routes_session": asset in session}

    @client.app.get("/probe/history/{asset_id}")
    def probe_history(asset: OwnedAssetIncludingDeleted, session: ReadSessionDep):
        return {"in_routes_session": asset in session}

    return client


PROBES = [("GET", "read"), ("POST", "change"), ("GET", "history")]


@pytest.mark.parametrize(("method", "variant"), PROBES, ids=[v for _, v in PROBES])
def test_the_asset_is_loaded_in_the_routes_own_session(probed_client, method, variant):
    user = sign_up(probed_client)
    asset = create_asset(probed_client, user)
    response = probed_client.request(
        method, f"/probe/{variant}/{asset['id']}", headers=user.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"in_routes_session": True}


@pytest.mark.parametrize(
    ("method", "variant", "status"),
    [("GET", "read", 404), ("POST", "change", 404), ("GET", "history", 200)],
)
def test_only_the_history_variant_finds_a_deleted_asset(probed_client, method, variant, status):
    user = sign_up(probed_client)
    asset = create_asset(probed_client, user)
    assert probed_client.delete(f"/v1/assets/{asset['id']}", headers=user.headers).is_success
    response = probed_client.request(
        method, f"/probe/{variant}/{asset['id']}", headers=user.headers
    )
    assert response.status_code == status, response.text
