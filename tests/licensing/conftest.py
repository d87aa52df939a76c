"""Fixtures of the clearance tests."""

import pytest
from factories import sign_up


@pytest.fixture
def requester(client):
    """A creator who asks for clearances."""
    return sign_up(client, role="creator")
