"""Fixtures of the clearance tests: a requester, and a registered face."""

import pytest
from enrolling import OBAMA, enrol
from factories import create_asset, sign_up


@pytest.fixture
def requester(client):
    """A creator: asks for clearances, owns nothing."""
    return sign_up(client, role="creator")


@pytest.fixture
def likeness(client, holder) -> dict:
    """The holder's face, enrolled from the three Obama photos (in a module marked
    ``still_photos``: no liveness challenge)."""
    asset = create_asset(client, holder, kind="likeness", handle="barack_face")
    assert enrol(client, holder, asset["id"], OBAMA).status_code == 200
    return asset
