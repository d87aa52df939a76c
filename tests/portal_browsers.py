"""A second browser on the same running app, for the holder who must not see the first's
pages: its own cookie jar, signed in as someone else."""

from factories import User
from fastapi.testclient import TestClient
from portal_client import portal_sign_in


def browser_of(client: TestClient, user: User) -> TestClient:
    """A browser of ``user``'s, signed in on ``client``'s app (already started)."""
    other = TestClient(client.app, base_url=str(client.base_url))
    portal_sign_in(other, user)
    return other
