"""A local Ray cluster for the tests of Ray workers (generation, scans): a head and worker
nodes started by ``ray.cluster_utils.Cluster``, this process connected to it, no usage
statistics sent, and the actors importing this checkout."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@contextmanager
def local_ray_cluster(*, head_cpus: int, nodes: int, node_cpus: int, node_gpus: int) -> Iterator:
    """A head of ``head_cpus`` CPUs (no GPU) and ``nodes`` nodes of ``node_cpus`` CPUs and
    ``node_gpus`` faked GPU slots each (so that ``num_gpus`` scheduling is exercised)."""
    import ray
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_MODE", "disabled")
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("RAY_USAGE_STATS_REPORT_URL", "http://127.0.0.1:9/")
        # The actors import this checkout, not whatever the venv's editable install names.
        env.setenv("PYTHONPATH", os.pathsep.join([str(PROJECT), os.environ.get("PYTHONPATH", "")]))
        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": head_cpus, "num_gpus": 0, "include_dashboard": False},
        )
        for _ in range(nodes):
            cluster.add_node(num_cpus=node_cpus, num_gpus=node_gpus)
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()
