"""Holders of different characters upload one matching reference picture at the same moment,
against a live `clearhouse serve` on both databases: the overlap check and the insert are one
step, so one asset stays active and every other is held in an overlap case, never two active
with the same picture."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from claiming import cases_opened_by
from drawn_characters import draw_character, png_bytes
from factories import create_asset, sign_up
from live_server import clearhouse_serve

HOLDERS = 3


def test_one_picture_uploaded_by_several_holders_at_once_leaves_one_active(settings, tmp_path):
    # One media thread per holder: their write transactions then start close together.
    settings = settings.model_copy(update={"media_concurrency": HOLDERS})
    picture = png_bytes(draw_character(70))
    with (
        clearhouse_serve(settings, log=tmp_path / "serve.log") as served,
        httpx.Client(base_url=served, timeout=120) as http,
    ):
        holders = [sign_up(http) for _ in range(HOLDERS)]
        assets = [
            create_asset(http, holder, name=f"Unrelated Hero {n}")
            for n, holder in enumerate(holders)
        ]
        start = threading.Barrier(HOLDERS)

        def upload(n: int) -> httpx.Response:
            with httpx.Client(base_url=served, timeout=120) as client:
                start.wait()
                return client.post(
                    f"/v1/assets/{assets[n]['id']}/references",
                    headers=holders[n].headers,
                    files=[("files", ("hero.png", picture, "image/png"))],
                )

        with ThreadPoolExecutor(max_workers=HOLDERS) as pool:
            answers = list(pool.map(upload, range(HOLDERS)))

        assert [answer.status_code for answer in answers] == [201] * HOLDERS, [
            answer.text for answer in answers
        ]
        standings = sorted(
            http.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()["standing"]
            for holder, asset in zip(holders, assets, strict=True)
        )
        assert standings == ["active"] + ["in_review"] * (HOLDERS - 1), standings
        opened = cases_opened_by(http, holders)
        assert len(opened) == HOLDERS - 1
        assert {case["overlaps_by"][0] for case in opened} == {"reference_image"}
