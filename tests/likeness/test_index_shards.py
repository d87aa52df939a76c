"""The face index on Ray actors (likeness/index/sharded.py), on a local cluster of two nodes:
search over N shards answers what one FaceIndex answers; enrolments and deletions through the
API reach the shards; a shard killed is reloaded from the vault and a search meanwhile is a
503, never an empty answer; a shard stuck past the deadline makes the search unavailable,
not partial. The API tests use the real dlib model on ../shared/data/faces."""

import os
import signal
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from enrolling import OBAMA, enrol, photo
from factories import create_asset, sign_up
from fastapi.testclient import TestClient
from pydantic import ValidationError
from ray_cluster import local_ray_cluster

from clearhouse.app import create_app
from clearhouse.db import write_session
from clearhouse.ray_start import RayActorsNotPlaced
from clearhouse.settings import Settings
from likeness.errors import FaceIndexUnavailable
from likeness.index import FaceIndex, FaceTemplate
from likeness.index.batches import pack_batch
from likeness.index.shard import BEHIND, NOT_LOADED, IndexShard, ShardChange
from likeness.index.types import uuid_array
from likeness.tasks import forget_likeness

ray = pytest.importorskip("ray", reason="ray is not installed: the sharded index is not tested")
from ray.cluster_utils import Cluster  # noqa: E402  (after the skip)

from likeness.index.sharded import (  # noqa: E402
    ShardedFaceIndex,
    shard_numbers,
    start_index_shards,
)

DLIB = "dlib/resnet-v1"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    """A head and one more node, two CPUs each."""
    with local_ray_cluster(head_cpus=2, nodes=1, node_cpus=2, node_gpus=0) as cluster:
        yield cluster


def _gone(shards: list) -> None:
    """Kill ``shards`` for good and wait until they are dead: their names (an installation's,
    which the next test on the same database uses again) are free then."""
    for shard in shards:
        ray.kill(shard, no_restart=True)
    for shard in shards:
        for _ in range(600):
            try:
                ray.get(shard.held_generation.remote())
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.05)


def _templates(count: int, *, per_likeness: int, seed: int):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, 128)).astype(np.float32)
    likenesses = [uuid.uuid4() for _ in range(-(-count // per_likeness))]
    return pack_batch(
        model_key=DLIB,
        template_ids=[uuid.uuid4() for _ in range(count)],
        likeness_ids=[likenesses[row // per_likeness] for row in range(count)],
        embeddings=vectors,
    )


@pytest.fixture
def three_shards(ray_cluster) -> Iterator[list]:
    shards = start_index_shards(installation=uuid.uuid4().hex[:12], shards=3)
    yield shards
    _gone(shards)


def _ranked(rows) -> list[list[tuple[uuid.UUID, uuid.UUID]]]:
    return [[(match.likeness_id, match.template_id) for match in row] for row in rows]


def test_search_over_shards_answers_what_one_index_answers(three_shards):
    batch = _templates(3000, per_likeness=3, seed=1)
    sharded = ShardedFaceIndex(
        shards=three_shards, read_vault=lambda _keep: (0, [batch]), deadline_s=30
    )
    sharded.load_behind()
    one = FaceIndex(device="numpy")
    one.add_batches(batches=[batch])
    assert sorted(sharded.shard_counts()) != [0, 0, 3000]  # spread, not all on one

    # A change on both sides: a likeness removed, another enrolled.
    removed = uuid.UUID(bytes=batch.likeness_ids[0].tobytes())
    sharded.changed_at(1).remove_likeness(likeness_id=removed)
    one.remove_likeness(likeness_id=removed)
    added = _templates(5, per_likeness=5, seed=2)
    enrolled = [
        FaceTemplate(
            template_id=uuid.UUID(bytes=template.tobytes()),
            likeness_id=uuid.UUID(bytes=likeness.tobytes()),
            model_key=DLIB,
            embedding=vector,
        )
        for template, likeness, vector in zip(
            added.template_ids, added.likeness_ids, added.vectors, strict=True
        )
    ]
    sharded.changed_at(2).add_templates(templates=enrolled)
    one.add_templates(templates=enrolled)

    queries = np.concatenate(
        [
            batch.vectors[:40] + 0.3 * np.random.default_rng(3).standard_normal((40, 128)),
            added.vectors[:1],
        ]
    )
    for k, floor in ((5, -1.0), (10, 0.2)):
        expected = one.search(model_key=DLIB, queries=queries, k=k, min_similarity=floor)
        found = sharded.search(model_key=DLIB, queries=queries, k=k, min_similarity=floor)
        # The same likenesses, templates and order; the scores to float32 rounding (BLAS
        # sums a shard's rows in another order than the whole matrix's).
        assert _ranked(found) == _ranked(expected)
        assert [[m.similarity for m in row] for row in found] == [
            pytest.approx([m.similarity for m in row], abs=1e-6) for row in expected
        ]
    assert sharded.count() == one.count() == 3002
    assert all(match.likeness_id != removed for row in found for match in row)


def test_a_shard_past_the_deadline_makes_the_search_unavailable_not_partial(three_shards):
    batch = _templates(300, per_likeness=1, seed=4)
    sharded = ShardedFaceIndex(
        shards=three_shards, read_vault=lambda _keep: (0, [batch]), deadline_s=1
    )
    sharded.load_behind()
    query = batch.vectors[:1]
    assert sharded.search(model_key=DLIB, queries=query, k=3)[0]  # all three answer

    stuck = ray.get(three_shards[2].pid.remote())
    os.kill(stuck, signal.SIGSTOP)  # a shard that hangs (a long pause, a swapping node)
    try:
        with pytest.raises(FaceIndexUnavailable, match=r"shard\(s\) \[2\] did not answer"):
            sharded.search(model_key=DLIB, queries=query, k=3)
    finally:
        os.kill(stuck, signal.SIGCONT)
    assert sharded.search(model_key=DLIB, queries=query, k=3)[0]


def test_a_lost_shard_is_reloaded_from_its_own_likenesses_alone(three_shards):
    """The vault is read for the lost shard's likenesses only: no other likeness's key is
    unwrapped nor its templates decrypted to rebuild one shard."""
    batch = _templates(300, per_likeness=1, seed=7)
    asked = []

    def read_vault(keep):
        asked.append(keep)
        return 0, [batch]

    sharded = ShardedFaceIndex(shards=three_shards, read_vault=read_vault, deadline_s=5)
    sharded.load_behind()
    likenesses = [uuid.UUID(bytes=row.tobytes()) for row in batch.likeness_ids]
    on_shard = dict(zip(likenesses, shard_numbers(batch.likeness_ids, shards=3), strict=True))
    assert all(asked[-1](likeness) for likeness in likenesses)  # the start: every shard new

    _killed_and_restarted(three_shards[1])
    query = batch.vectors[:1]
    with pytest.raises(FaceIndexUnavailable, match=r"shard\(s\) \[1\] are being rebuilt"):
        sharded.search(model_key=DLIB, queries=query, k=3)
    for _ in range(100):
        if sum(sharded.shard_counts()) == 300:
            break
        time.sleep(0.1)
    assert sharded.search(model_key=DLIB, queries=query, k=3)[0]
    assert len(asked) == 2
    kept = {likeness for likeness in likenesses if asked[-1](likeness)}
    assert kept == {likeness for likeness, shard in on_shard.items() if shard == 1}


def test_a_shard_applies_changes_in_their_order_and_each_once():
    """Without Ray: the shard's generation rule."""
    shard = IndexShard(device="numpy", approximate_threshold=None, nprobe=None)
    first, second = _templates(2, per_likeness=2, seed=5), _templates(1, per_likeness=1, seed=6)
    query = dict(model_key=DLIB, queries=second.vectors, k=5, min_similarity=0.99, wait_s=0)
    assert shard.search(at_least=0, **query) is BEHIND  # nothing loaded yet
    shard.load(generation=3, batches=[first])

    assert shard.apply(ShardChange(5, added=[second])) == 3  # early: waits for 4
    assert shard.search(at_least=5, **query) is BEHIND
    assert shard.apply(ShardChange(3, added=[second])) == 3  # in already: skipped
    assert shard.apply(ShardChange(4)) == 5  # 4, then the waiting 5
    assert [m.similarity for m in shard.search(at_least=5, **query)[0]] == [pytest.approx(1)]
    assert shard.count() == 3
    assert shard.load(generation=4, batches=[]) == 5  # an older snapshot changes nothing


def test_shards_the_cluster_cannot_place_stop_the_start_and_say_why(ray_cluster):
    # Five shards of one CPU each on a cluster of four: one can never start.
    shards = start_index_shards(installation=f"unplaceable-{uuid.uuid4().hex[:8]}", shards=5)
    index = ShardedFaceIndex(shards=shards, read_vault=lambda _keep: (0, []), deadline_s=2)
    try:
        with pytest.raises(RayActorsNotPlaced, match=r"has 4 CPUs .*CLEARHOUSE_FACE_INDEX_SHARDS"):
            index.load_behind(start_within_s=3)
    finally:
        for shard in shards:
            ray.kill(shard, no_restart=True)


def test_shards_without_a_ray_cluster_are_refused():
    with pytest.raises(ValidationError, match="set CLEARHOUSE_RAY_ADDRESS too"):
        Settings(face_index_shards=2, ray_address=None)


# -- through the API ---------------------------------------------------------------------


@pytest.fixture
def sharded_app(stills_settings, ray_cluster) -> Iterator[TestClient]:
    """The app with its face index on two shards of the local cluster."""
    sharded = stills_settings.model_copy(
        update={"ray_address": ray_cluster.address, "face_index_shards": 2}
    )
    with TestClient(create_app(sharded)) as app:
        yield app
        _gone(app.app.state.likeness.index.shards)


def _scan(app, user):
    return app.post(
        "/v1/likeness/scan",
        headers=user.headers,
        files={"file": ("media", photo("obama.jpg"), "application/octet-stream")},
    )


def _matched(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {m["asset_id"] for face in response.json()["faces"] for m in face["matches"]}


def _pids(index: ShardedFaceIndex) -> list[int]:
    return ray.get([shard.pid.remote() for shard in index.shards])


def _holder_shard(asset_id: str) -> int:
    (number,) = shard_numbers(uuid_array([uuid.UUID(asset_id)]), shards=2)
    return int(number)


def _killed_and_restarted(shard) -> int:
    """Kill ``shard`` (Ray restarts it, in a new process); the generation it holds then."""
    before = ray.get(shard.pid.remote())
    ray.kill(shard, no_restart=False)
    for _ in range(600):
        try:
            if ray.get(shard.pid.remote()) != before:
                return ray.get(shard.held_generation.remote())
        except ray.exceptions.RayActorError:
            pass
        time.sleep(0.05)
    raise AssertionError("the killed shard was not restarted")


# On PostgreSQL, where many API processes share the shards (the SQLite path is the same code).
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@ON_POSTGRESQL
def test_enrolment_and_deletion_through_the_api_reach_the_shards(sharded_app):
    """Through one app; a second app on the database (another API process) uses the same
    shards."""
    index = sharded_app.app.state.likeness.index
    assert isinstance(index, ShardedFaceIndex)
    holder = sign_up(sharded_app)
    asset = create_asset(sharded_app, holder, kind="likeness")
    assert enrol(sharded_app, holder, asset["id"], OBAMA).status_code == 200
    counts = index.shard_counts()
    assert counts[_holder_shard(asset["id"])] == 3 and sum(counts) == 3
    assert _matched(_scan(sharded_app, holder)) == {asset["id"]}
    with TestClient(create_app(sharded_app.app.state.settings)) as other:
        assert _pids(other.app.state.likeness.index) == _pids(index)  # the same actors
        assert _matched(_scan(other, holder)) == {asset["id"]}

        deleted = sharded_app.delete(f"/v1/assets/{asset['id']}", headers=holder.headers)
        assert deleted.status_code == 200, deleted.text
        assert index.shard_counts() == [0, 0]  # gone from the shards, not only filtered out
        assert _matched(_scan(other, holder)) == set()


@ON_POSTGRESQL
def test_a_change_no_process_sent_leaves_the_shards_behind_until_reloaded(sharded_app):
    """The retention run deletes from the CLI, which sends nothing to the shards."""
    index = sharded_app.app.state.likeness.index
    holder = sign_up(sharded_app)
    asset = create_asset(sharded_app, holder, kind="likeness")
    assert enrol(sharded_app, holder, asset["id"], OBAMA).status_code == 200
    with write_session(sharded_app.app.state.engine) as session:
        forget_likeness(
            session,
            likeness_id=uuid.UUID(asset["id"]),
            reason="retention",
            actor_id=None,
            key_store=sharded_app.app.state.likeness.key_store,
            runtime=None,
        )

    behind = _scan(sharded_app, holder)
    assert behind.status_code == 503, behind.text
    for _ in range(60):
        if (response := _scan(sharded_app, holder)).status_code == 200:
            break
    assert _matched(response) == set()
    assert index.shard_counts() == [0, 0]  # reloaded without it


@ON_POSTGRESQL
def test_a_killed_shard_is_reloaded_and_a_search_meanwhile_is_a_503(sharded_app):
    index = sharded_app.app.state.likeness.index
    holder = sign_up(sharded_app)
    asset = create_asset(sharded_app, holder, kind="likeness")
    assert enrol(sharded_app, holder, asset["id"], OBAMA).status_code == 200
    holding = index.shards[_holder_shard(asset["id"])]

    assert _killed_and_restarted(holding) == NOT_LOADED  # serving again, holding nothing
    during = _scan(sharded_app, holder)
    assert during.status_code == 503, during.text
    assert during.headers["content-type"] == "application/problem+json"
    assert during.json()["type"].endswith("/face-index-unavailable")
    assert int(during.headers["Retry-After"]) > 0

    answers = [during.status_code]
    while answers[-1] != 200:  # the reload takes its time; every answer is a 503 or the match
        response = _scan(sharded_app, holder)
        answers.append(response.status_code)
        assert response.status_code in (200, 503), response.text
        assert len(answers) < 60, answers
    assert _matched(response) == {asset["id"]}
    assert sum(index.shard_counts()) == 3
