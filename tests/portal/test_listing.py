"""Every portal list pages alike: ``page`` from 1, bounded, so no address asks the database
for an absurd OFFSET."""

import pytest
from factories import promote, sign_up
from fastapi.testclient import TestClient
from portal_client import portal_sign_in
from sqlmodel import Session

LISTS = ["/assets", "/uses", "/grants", "/audit", "/review/conflicts", "/review/flagged"]


@pytest.mark.parametrize("page", ["0", "100001", "9" * 30])
def test_a_page_out_of_bounds_is_a_400_page_on_every_list(
    client: TestClient, session: Session, page: str
) -> None:
    admin = promote(session, sign_up(client), "admin")  # an admin opens holders' and staff lists
    portal_sign_in(client, admin)
    for path in LISTS:
        assert client.get(f"{path}?page=2").status_code == 200, path
        answer = client.get(f"{path}?page={page}")
        assert answer.status_code == 400, (path, page)
        assert "That did not work" in answer.text
