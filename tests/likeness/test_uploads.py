"""The two upload routes: files counted while the multipart body is parsed, pixels budgeted
per request, frames shrunk for detection with boxes given back in the upload's pixels, and
a bounded number of decodes at once, in media worker processes, never in the API process.
The real dlib model on the shared photos."""

import io
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from enrolling import OBAMA, photo, scan
from factories import create_asset
from fastapi.testclient import TestClient
from media_work import hold
from PIL import Image

from clearhouse.app import create_app
from likeness import media
from likeness.backends import DlibFaceBackend, InsightFaceBackend
from likeness.errors import MediaBusy
from likeness.media_workers import MEDIA_WAITING_PER_SLOT
from likeness.runtime import LikenessRuntime
from likeness.uploads import MAX_ENROLMENT_UPLOADS

pytestmark = pytest.mark.still_photos


def _png(size: tuple[int, int] = (32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "grey").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def sent_to_media_workers(monkeypatch) -> list[int]:
    """Records how many uploads each piece of media work sent to the media workers carries
    (decoding happens there only: see test_decoding_never_runs_in_the_api_process)."""
    sent: list[int] = []
    run = LikenessRuntime.run_media_work

    def recorded(runtime, work):
        uploads = work.args[0]
        sent.append(len(uploads) if isinstance(uploads, list) else 1)
        return run(runtime, work)

    monkeypatch.setattr(LikenessRuntime, "run_media_work", recorded)
    return sent


def _open_enrolment(client, user) -> str:
    asset = create_asset(client, user, kind="likeness")
    opened = client.post(f"/v1/assets/{asset['id']}/enrolments", headers=user.headers, json={})
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


def _submit(client, user, enrolment_id: str, uploads: list[bytes]):
    files = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(uploads)]
    return client.post(f"/v1/enrolments/{enrolment_id}/frames", headers=user.headers, files=files)


def test_thirteen_files_are_refused_before_any_is_decoded(client, holder, sent_to_media_workers):
    enrolment_id = _open_enrolment(client, holder)
    response = _submit(client, holder, enrolment_id, [_png()] * (MAX_ENROLMENT_UPLOADS + 1))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unreadable-upload")
    assert "Maximum number of files is 12" in response.json()["detail"]
    assert "Send 1 to 12 photos or videos as `files`." in response.json()["detail"]
    assert sent_to_media_workers == []
    # Twelve are read and decoded (and refused for showing no face).
    response = _submit(client, holder, enrolment_id, [_png()] * MAX_ENROLMENT_UPLOADS)
    assert response.json()["type"].endswith("/enrolment-rejected")
    assert "upload 1 shows no face" in response.json()["detail"]
    assert sent_to_media_workers == [MAX_ENROLMENT_UPLOADS]


def test_a_scan_takes_one_file(client, holder, sent_to_media_workers):
    two = [("file", ("a.png", _png(), "image/png")), ("file", ("b.png", _png(), "image/png"))]
    response = client.post("/v1/likeness/scan", headers=holder.headers, files=two)
    assert response.status_code == 400
    assert "Maximum number of files is 1" in response.json()["detail"]
    misnamed = {"files": ("a.png", _png(), "image/png")}
    response = client.post("/v1/likeness/scan", headers=holder.headers, files=misnamed)
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == ["body", "file"]
    assert sent_to_media_workers == []


def test_stray_form_fields_are_refused(client, holder):
    response = client.post(
        "/v1/likeness/scan",
        headers=holder.headers,
        files={"file": ("a.png", _png(), "image/png")},
        data={"note": "hello"},
    )
    assert response.status_code == 400
    assert "Too many fields" in response.json()["detail"]


def test_the_schema_still_says_what_to_upload(client):
    paths = client.app.openapi()["paths"]
    scan = paths["/v1/likeness/scan"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert scan["schema"]["required"] == ["file"]
    assert scan["schema"]["properties"]["file"]["contentMediaType"] == "application/octet-stream"
    frames = paths["/v1/enrolments/{enrolment_id}/frames"]["post"]["requestBody"]
    files = frames["content"]["multipart/form-data"]["schema"]["properties"]["files"]
    assert (files["type"], files["minItems"], files["maxItems"]) == ("array", 1, 12)


def test_an_enrolments_uploads_share_one_pixel_budget(stills_settings, holder):
    # The three photos shrink to nothing (all are under 1280 px): 1.03 + 0.75 + 0.56 MP.
    budget = stills_settings.model_copy(update={"upload_max_pixels": 2_000_000})
    with TestClient(create_app(budget)) as client:
        response = _submit(client, holder, _open_enrolment(client, holder), list(map(photo, OBAMA)))
    assert response.status_code == 413, response.text
    assert response.json()["type"].endswith("/too-many-pixels")
    assert "limit of 2000000" in response.json()["detail"]


def _box_size(box: list[int]) -> int:
    return box[2] - box[0]


def test_shrunk_photos_still_find_and_match_the_same_person(stills_settings, holder):
    small = stills_settings.model_copy(update={"media_max_side": 480})  # 2.3x to 4.6x smaller
    with TestClient(create_app(small)) as client:
        asset = create_asset(client, holder, kind="likeness")
        opened = client.post(
            f"/v1/assets/{asset['id']}/enrolments", headers=holder.headers, json={}
        ).json()
        files = [("files", (name, photo(name), "image/jpeg")) for name in OBAMA]
        response = client.post(
            f"/v1/enrolments/{opened['id']}/frames", headers=holder.headers, files=files
        )
        assert response.json()["enrolment"]["status"] == "enrolled", response.text
        shrunk = scan(client, holder, photo("obama_partial_face.jpg"))
        assert [m["asset_id"] for m in shrunk["faces"][0]["matches"]] == [asset["id"]]
        assert scan(client, holder, photo("biden.jpg"))["faces"][0]["matches"] == []

    # biden.jpg (970x2204) is searched at 1280 px by default; its face comes back in the
    # upload's pixels, where a search of the whole photo finds it.
    with TestClient(create_app(stills_settings)) as client:
        shrunk_box = scan(client, holder, photo("biden.jpg"))["faces"][0]["box"]
    whole = stills_settings.model_copy(update={"media_max_side": 4096})
    with TestClient(create_app(whole)) as client:
        whole_box = scan(client, holder, photo("biden.jpg"))["faces"][0]["box"]
    tolerance = 0.02 * _box_size(whole_box)
    assert all(abs(a - b) <= tolerance for a, b in zip(shrunk_box, whole_box, strict=True))


@contextmanager
def _decoding(runtime, count: int = 1) -> Iterator[None]:
    """``count`` long pieces of media work running or queued on ``runtime``'s workers."""
    with tempfile.TemporaryDirectory() as folder:
        started, release = Path(folder), Path(folder) / "release"
        work = partial(hold, started=started, release=release)
        threads = [
            threading.Thread(target=runtime.run_media_work, args=(work,)) for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        workers = runtime.settings.media_concurrency
        admission = runtime._workers._admission
        deadline = time.monotonic() + 60  # a worker's first start loads the face model
        while admission._value > runtime.media_requests_admitted - count or len(
            list(started.iterdir())
        ) < min(count, workers):
            assert time.monotonic() < deadline, "the media work was not admitted and started"
            time.sleep(0.01)
        try:
            yield
        finally:
            release.touch()
            for thread in threads:
                thread.join(30)


def test_a_scan_waits_for_a_free_decoder_then_gets_503(stills_settings, holder):
    one = stills_settings.model_copy(update={"media_concurrency": 1, "media_queue_seconds": 0.5})
    with TestClient(create_app(one)) as client:
        with _decoding(client.app.state.likeness):  # another request is decoding
            busy = client.post(
                "/v1/likeness/scan",
                headers=holder.headers,
                files={"file": ("photo.jpg", photo("obama.jpg"), "image/jpeg")},
            )
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["type"].endswith("/media-busy")
        assert "within 0.5 s" in busy.json()["detail"]
        assert scan(client, holder, photo("obama.jpg"))["frames_scanned"] == 1


def test_only_a_few_requests_queue_for_a_decoder(stills_settings):
    queued = stills_settings.model_copy(update={"media_concurrency": 1, "media_queue_seconds": 30})
    runtime = LikenessRuntime(settings=queued, key_store=None, index=None)
    try:
        with (
            _decoding(runtime, count=1 + MEDIA_WAITING_PER_SLOT),  # one decoding, two queued
            pytest.raises(MediaBusy, match="as many uploads as it queues") as refused,
        ):
            runtime.run_media_work(os.getpid)
        assert refused.value.headers == {"Retry-After": "30"}
        assert runtime.run_media_work(os.getpid) != os.getpid()
    finally:
        runtime.close()


def test_decoding_never_runs_in_the_api_process(client, holder, monkeypatch):
    """Decoding and the face model run in media workers: what the API process would call to
    decode or detect is never called, yet the uploads are decoded and their faces found."""
    called_here: list[str] = []

    def recorded(name: str, original):
        def record(*args, **kwargs):
            called_here.append(name)
            return original(*args, **kwargs)

        return record

    monkeypatch.setattr(media, "decode_image", recorded("decode_image", media.decode_image))
    monkeypatch.setattr(media, "decode_video", recorded("decode_video", media.decode_video))
    for backend in (DlibFaceBackend, InsightFaceBackend):
        detect = recorded(f"{backend.__name__}.detect_and_embed", backend.detect_and_embed)
        monkeypatch.setattr(backend, "detect_and_embed", detect)

    assert len(scan(client, holder, photo("obama.jpg"))["faces"]) == 1
    rejected = _submit(client, holder, _open_enrolment(client, holder), [_png()] * 3)
    assert "upload 1 shows no face" in rejected.json()["detail"]
    assert called_here == []
