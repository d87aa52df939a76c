"""Every list route pages alike: ``limit`` and ``offset``, each sent once."""

import pytest
from factories import create_asset


def test_a_page_holds_limit_items_from_offset(client, holder):
    handles = [create_asset(client, holder)["handle"] for _ in range(3)]

    page = client.get("/v1/assets?limit=2&offset=1", headers=holder.headers).json()

    assert [item["handle"] for item in page["items"]] == handles[1:3]
    assert page["total"] == 3


@pytest.mark.parametrize("query", ["limit=1&limit=2", "offset=0&offset=5"])
def test_a_paging_parameter_sent_twice_is_refused(client, holder, query):
    answer = client.get(f"/v1/assets?{query}", headers=holder.headers)

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "once" in answer.json()["detail"]
