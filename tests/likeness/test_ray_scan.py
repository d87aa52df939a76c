"""Faces found on Ray scan actors (``ray_address`` set), on a local cluster: the actors find
the faces the in-process backend finds; a live `clearhouse serve` given the cluster finds an
enrolled face and refuses what it cannot queue with 503 Retry-After; an actor killed mid-batch
is restarted and its batch sent again, never answered with no faces.

The real dlib model on the photos in ../shared/data/faces (CLEARHOUSE_TEST_FACES_DIR)."""

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from enrolling import OBAMA, enrol, matched, picture, scan, video
from factories import create_asset, sign_up
from fastapi.testclient import TestClient
from live_server import clearhouse_serve
from prometheus_client import REGISTRY
from ray_cluster import local_ray_cluster

from clearhouse.app import create_app

ray = pytest.importorskip("ray", reason="ray is not installed: the Ray scan is not tested")
from ray.cluster_utils import Cluster  # noqa: E402  (after the skip)
from ray.exceptions import ActorUnavailableError  # noqa: E402

from likeness.ray_scan import RayFaceBackend, start_scan_actors  # noqa: E402

# The actors find faces the same whichever database the app uses: one is enough.
pytestmark = [
    pytest.mark.still_photos,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CONTROL = {"concurrency_group": "control"}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    """A head of two CPUs: dlib's actors take one each (no node is lost here)."""
    with local_ray_cluster(head_cpus=2, nodes=0, node_cpus=1, node_gpus=0) as cluster:
        yield cluster


def _restarts() -> float:
    return REGISTRY.get_sample_value("clearhouse_media_worker_restarts_total") or 0.0


def test_the_actors_find_the_faces_the_backend_finds_in_process(
    stills_settings, ray_cluster, face_photos, dlib_faces
):
    """Five photos in batches of two (the last alone), spread over two actors."""
    names = [*face_photos, "obama.jpg"]
    on_ray = stills_settings.model_copy(
        update={"ray_address": ray_cluster.address, "ray_scan_actors": 2}
    )
    actors = start_scan_actors(on_ray)
    try:
        backend = RayFaceBackend(actors, batch=2, retry_within_s=10)
        found = backend.detect_and_embed([face_photos[name] for name in names])
        pids = {ray.get(actor.pid.options(**CONTROL).remote()) for actor in actors}
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)

    assert len(pids) == 2
    assert backend.model_key == "dlib/resnet-v1"
    assert [len(faces) for faces in found] == [len(dlib_faces[name]) for name in names]
    for name, faces in zip(names, found, strict=True):
        for on_actor, in_process in zip(faces, dlib_faces[name], strict=True):
            assert on_actor.box == in_process.box
            np.testing.assert_allclose(on_actor.embedding, in_process.embedding, atol=1e-6)


def test_a_live_server_on_ray_finds_the_enrolled_face_and_refuses_a_full_queue(
    stills_settings, tmp_path, ray_cluster
):
    """One actor, one request at a time and two waiting: six scans at once of a two-frame
    video, released together, are answered with the face or a 503 media-busy (Retry-After)."""
    serving = stills_settings.model_copy(
        update={"ray_address": ray_cluster.address, "ray_scan_actors": 1, "media_concurrency": 1}
    )
    clip = video([picture("obama.jpg")] * 2, fps=2)
    with (
        clearhouse_serve(serving, log=tmp_path / "serve.log") as served,
        httpx.Client(base_url=served, timeout=60) as http,
    ):
        holder = sign_up(http)
        asset = create_asset(http, holder, kind="likeness")
        enrolled = enrol(http, holder, asset["id"], OBAMA)
        assert enrolled.json()["enrolment"]["status"] == "enrolled", enrolled.text
        assert matched(scan(http, holder, "obama.jpg")) == {asset["id"]}
        assert matched(scan(http, holder, "biden.jpg")) == set()

        barrier = threading.Barrier(6)
        answers: list[httpx.Response] = []

        def send() -> None:
            barrier.wait()
            answers.append(
                http.post(
                    "/v1/likeness/scan",
                    headers=holder.headers,
                    files={"file": ("clip.mp4", clip, "video/mp4")},
                )
            )

        threads = [threading.Thread(target=send) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert sorted({answer.status_code for answer in answers}) == [200, 503]
    for answer in answers:
        if answer.status_code == 503:
            assert answer.json()["type"].endswith("/media-busy"), answer.text
            assert int(answer.headers["retry-after"]) >= 1
        else:
            faces = answer.json()["faces"]
            assert len(faces) == answer.json()["frames_scanned"] == 2
            assert matched(answer.json()) == {asset["id"]}


def test_an_actor_killed_mid_batch_is_restarted_and_the_batch_sent_again(
    stills_settings, ray_cluster
):
    """The scan is answered with every face (or a 503 media-worker-lost), never with none."""
    on_ray = stills_settings.model_copy(
        update={"ray_address": ray_cluster.address, "ray_scan_actors": 1, "ray_scan_batch": 8}
    )
    clip = video([picture("obama.jpg")] * 8, fps=2)
    with TestClient(create_app(on_ray)) as client:
        holder = sign_up(client)
        asset = create_asset(client, holder, kind="likeness")
        assert enrol(client, holder, asset["id"], OBAMA).status_code == 200
        (actor,) = client.app.state.likeness._workers.actors
        killed = ray.get(actor.pid.options(**CONTROL).remote())
        restarts = _restarts()
        scanned = _scan_while(client, holder, clip, actor, lambda: os.kill(killed, signal.SIGKILL))
        if scanned.status_code == 200:
            assert scanned.json()["frames_scanned"] == 8
            assert len(scanned.json()["faces"]) == 8  # not a silent "no face found"
            assert matched(scanned.json()) == {asset["id"]}
        else:
            assert scanned.status_code == 503, scanned.text
            assert scanned.json()["type"].endswith("/media-worker-lost")
            assert scanned.headers["retry-after"] == "1"
        assert _pid_when_back(actor) != killed
        assert matched(scan(client, holder, "obama.jpg")) == {asset["id"]}
        assert _restarts() == restarts + 1

        # An actor gone for good (its restarts used up): the batch has nowhere to go, a 503.
        lost = _scan_while(client, holder, clip, actor, lambda: ray.kill(actor, no_restart=True))
        assert lost.status_code == 503, lost.text
        assert lost.json()["type"].endswith("/media-worker-lost")


def _scan_while(client, holder, clip: bytes, actor, stop: Callable[[], None]) -> httpx.Response:
    """The answer to a scan of ``clip`` during which, once the actor works on it, ``stop()``."""
    answer: list[httpx.Response] = []
    scanning = threading.Thread(
        target=lambda: answer.append(
            client.post(
                "/v1/likeness/scan",
                headers=holder.headers,
                files={"file": ("clip.mp4", clip, "video/mp4")},
            )
        )
    )
    scanning.start()
    deadline = time.monotonic() + 30
    while ray.get(actor.working.options(**CONTROL).remote()) == 0:
        assert time.monotonic() < deadline, "the actor never started the batch"
        time.sleep(0.005)
    stop()
    scanning.join(60)
    (scanned,) = answer
    return scanned


def _pid_when_back(actor) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            return ray.get(actor.pid.options(**CONTROL).remote())
        except ActorUnavailableError:
            assert time.monotonic() < deadline, "the actor did not come back"
            time.sleep(0.1)
