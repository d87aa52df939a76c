"""Generation jobs on Ray actors (``ray_address`` set), on a local cluster of two nodes with a
faked GPU slot each (and a head without one): a job runs on an actor and is released once; a
node lost mid-job leaves the job to the database's retry, released and charged once; a
revocation that commits while the actor generates (of a live `clearhouse serve` given the
cluster's address) stops it and cancels the release.

One cluster for the module (a start is a few seconds); each test starts its own worker, whose
actor loads the tiny pipeline."""

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from factories import granted_asset, sign_up
from generating import (
    USD_POLICY,
    charges_and_licences,
    generator_runtime,
    job,
    queued,
    wait_until_final,
)
from live_server import clearhouse_serve
from ray_cluster import local_ray_cluster
from sqlmodel import Session, func, select

from clearhouse.db import build_engine, snapshot_session
from clearhouse.ray_start import RayActorsNotPlaced
from generator.models import JobState
from generator.worker import GenerationWorker, start_generation_worker
from licensing.models import Charge
from payouts.accounts import wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import JournalEntry

ray = pytest.importorskip("ray", reason="ray is not installed: the Ray worker is not tested")
from ray.cluster_utils import Cluster  # noqa: E402  (after the skip)

from generator.ray_workers import RayClipPipeline  # noqa: E402

# Long enough that a test acts while the actor is between steps (~0.1 s each on a CPU).
LONG = {"steps": 40}
# A revocation must commit before the last of these: the most steps a request may ask.
LONGEST = {"steps": 200}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    """A head (no GPU) and two nodes of one fake GPU slot each."""
    with local_ray_cluster(head_cpus=1, nodes=2, node_cpus=1, node_gpus=1) as cluster:
        yield cluster


@pytest.fixture
def ray_worker(client, ray_cluster) -> Iterator[GenerationWorker]:
    """The app's generation worker as ``ray_address`` makes it: one actor."""
    runtime = generator_runtime(
        client,
        None,
        ray_address=ray_cluster.address,
        ray_generation_actors=1,
        generation_poll_seconds=0.1,
    )
    worker = start_generation_worker(runtime)
    yield worker
    worker.close()


def _actor(worker: GenerationWorker):
    pipeline = worker.runtime.loaded_pipeline
    assert isinstance(pipeline, RayClipPipeline)
    (actor,) = pipeline.actors
    return actor


def _node_of(actor) -> str:
    return ray.get(actor.node_id.options(concurrency_group="control").remote())


def _wait_for_steps(engine, generation_id) -> None:
    """Until the actor has made a denoising step of the job (and not all of them)."""
    deadline = time.monotonic() + 120  # the actor's first pipeline load included
    while (current := job(engine, generation_id)).steps_done < 1:
        assert current.state in (JobState.queued, JobState.generating), current.state
        assert time.monotonic() < deadline, "the actor made no step"
        time.sleep(0.02)
    assert current.steps_done < current.steps_total


def _released_once(client, engine, requester, generation_id) -> None:
    """Licensed and charged once, one ledger entry, the creator's wallet debited once."""
    job_id = uuid.UUID(generation_id)
    assert charges_and_licences(engine, generation_id) == (1, 1)
    with Session(engine) as session:
        charge = session.exec(select(Charge).where(Charge.generation_id == job_id)).one()
        entries = session.exec(
            select(func.count()).where(JournalEntry.generation_id == job_id)
        ).one()
        balance = balance_of(session, wallet(requester.id, "USD"))
    assert entries == 1
    assert balance == client.app.state.settings.free_monthly_credits_minor - charge.amount_minor
    with snapshot_session(engine) as session:
        check = check_ledger(session)
    assert check.ok, check


def test_a_job_runs_on_a_ray_actor_and_is_released_once(
    client, engine, requester, character, ray_worker
):
    generation_id = queued(client, requester, "Nova Knight at sea")

    released = wait_until_final(engine, generation_id)

    assert (released.state, released.attempts) == (JobState.released, 1)
    assert released.steps_done == released.steps_total > 0
    _released_once(client, engine, requester, generation_id)


def test_a_revocation_while_the_actor_generates_stops_it_and_nothing_is_released(
    settings, tmp_path, ray_cluster
):
    """Against a live `clearhouse serve` given CLEARHOUSE_RAY_ADDRESS: its own Ray worker."""
    serving = settings.model_copy(
        update={
            "generation_worker": True,
            "generation_poll_seconds": 0.1,
            "ray_address": ray_cluster.address,
        }
    )
    engine = build_engine(serving.resolved_database_url)
    with (
        clearhouse_serve(serving, log=tmp_path / "serve.log") as served,
        httpx.Client(base_url=served, timeout=60) as http,
    ):
        holder, requester = sign_up(http), sign_up(http, role="creator")
        _, granted = granted_asset(http, holder, handle="nova_knight", policy=USD_POLICY)
        generation_id = queued(http, requester, cameos=["@nova_knight"], **LONGEST)
        _wait_for_steps(engine, generation_id)

        revoked = http.post(
            f"/v1/grants/{granted['grant']['id']}/revoke", headers=holder.headers, json={}
        )
        assert revoked.status_code == 200, revoked.text
        cancelled = wait_until_final(engine, generation_id)
        read = http.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    counted = charges_and_licences(engine, generation_id)
    engine.dispose()

    assert cancelled.state == JobState.cancelled
    assert "@nova_knight" in cancelled.reasons[0], cancelled.reasons
    assert cancelled.steps_done < cancelled.steps_total  # the actor stopped mid-generation
    assert counted == (0, 0)
    assert read["charge"] is None and read["licences"] == []


def test_a_node_lost_mid_job_leaves_it_to_the_retry_released_and_charged_once(
    client, engine, requester, character, ray_cluster, ray_worker
):
    actor = _actor(ray_worker)
    first_node = _node_of(actor)
    generation_id = queued(client, requester, "Nova Knight at sea", **LONG)
    _wait_for_steps(engine, generation_id)

    (lost,) = [node for node in ray_cluster.worker_nodes if node.node_id == first_node]
    ray_cluster.remove_node(lost, allow_graceful=True)
    try:
        released = wait_until_final(engine, generation_id)
        assert _node_of(actor) != first_node  # restarted on the other node
    finally:
        ray_cluster.add_node(num_cpus=1, num_gpus=1)  # two GPU nodes again for the next test

    assert (released.state, released.attempts) == (JobState.released, 2)
    assert released.video_name == f"{generation_id}-2.mp4"
    _released_once(client, engine, requester, generation_id)


def test_more_generation_actors_than_the_cluster_has_gpus_stop_the_start_and_say_why(
    client, ray_cluster
):
    runtime = generator_runtime(
        client, None, ray_address=ray_cluster.address, ray_generation_actors=3, ray_start_seconds=3
    )
    with pytest.raises(RayActorsNotPlaced, match=r"and 2 GPUs .*CLEARHOUSE_RAY_GENERATION_ACTORS"):
        start_generation_worker(runtime)
    # The actors it made are gone: the two GPU slots are free for the next worker.
    deadline = time.monotonic() + 30
    while ray.available_resources().get("GPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("GPU", 0) == 2
