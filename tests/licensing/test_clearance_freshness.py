"""A clearance sees every change to the text catalogue committed before it, heard of or not:
the change channel (clearhouse/changes.py) only spares the other routes a counter read."""

from types import SimpleNamespace

from clearing import clearance_body
from factories import create_asset

from clearhouse.changes import Freshness
from clearhouse.db import read_session


def test_a_clearance_reads_the_catalogue_counter_though_the_channel_heard_nothing(
    client, holder, requester
):
    matching = client.app.state.matching
    # A listener connected and quiet: every use but a decision trusts what it holds.
    matching.freshness = Freshness(SimpleNamespace(connected=True))
    with read_session(client.app.state.engine) as session:
        matching.refresh(session, read_counter=True)
    held = matching.generation
    asset = create_asset(client, holder, handle="captain_test")  # announced to nobody
    assert not matching.freshness.must_check() and matching.generation == held

    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test at dawn")
    )
    assert answer.status_code == 201, answer.text
    assert [touched["asset_id"] for touched in answer.json()["assets"]] == [asset["id"]]
