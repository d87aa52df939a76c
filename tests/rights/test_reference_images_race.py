"""Uploads racing for an asset's last reference slots, against a live `clearhouse serve` on
both databases: the limit holds, and another process's catalogue ends up with exactly the
pictures that were stored, loaded incrementally after commits it did not make."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from drawn_characters import draw_character, png_bytes
from factories import create_asset, sign_up
from fastapi.testclient import TestClient
from live_server import clearhouse_serve

from clearhouse.app import create_app
from clearhouse.db import read_session

LIMIT = 3
UPLOADERS = 6


@pytest.fixture
def limited(settings):
    # One media thread per uploader: their write transactions then start close together.
    return settings.model_copy(
        update={"reference_images_per_asset": LIMIT, "media_concurrency": UPLOADERS}
    )


def test_concurrent_uploads_never_pass_the_limit_and_every_process_sees_what_was_stored(
    limited, tmp_path
):
    with (
        clearhouse_serve(limited, log=tmp_path / "serve.log") as served,
        httpx.Client(base_url=served, timeout=60) as http,
        TestClient(create_app(limited)) as other,
    ):
        holder = sign_up(http)
        asset = create_asset(http, holder, kind="character")
        first = png_bytes(draw_character(60))
        files = [("files", ("first.png", first, "image/png"))]
        url = f"/v1/assets/{asset['id']}/references"
        assert http.post(url, headers=holder.headers, files=files).status_code == 201
        pictures = [png_bytes(draw_character(61 + n)) for n in range(UPLOADERS)]
        _matched(other, first)  # the other process is in step before the race
        start = threading.Barrier(UPLOADERS)

        def upload(data: bytes) -> httpx.Response:
            with httpx.Client(base_url=served, timeout=60) as uploader:
                start.wait()
                return uploader.post(
                    url, headers=holder.headers, files=[("files", ("p.png", data, "image/png"))]
                )

        with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
            responses = list(pool.map(upload, pictures))

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] * (LIMIT - 1) + [409] * (UPLOADERS - LIMIT + 1), [
            response.text for response in responses
        ]
        refused = [r.json()["type"] for r in responses if r.status_code == 409]
        assert all(kind.endswith("/too-many-reference-images") for kind in refused)
        listed = http.get(url, headers=holder.headers).json()
        assert len(listed) == LIMIT

        stored = [data for data, r in zip(pictures, responses, strict=True) if r.status_code == 201]
        for data in pictures:
            assert _matched(other, data) == ({asset["id"]} if data in stored else set())
        assert other.app.state.reference_catalogue.index.count() == LIMIT


def _matched(client, data: bytes) -> set[str]:
    with read_session(client.app.state.engine) as session:
        matches = client.app.state.reference_catalogue.match(session, [data])
    return {str(match.asset_id) for match in matches}
