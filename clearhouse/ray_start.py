"""Waiting for Ray actors a process starts with, and saying why when the cluster cannot
place them: Ray keeps an actor whose CPUs or GPUs no node has free pending for ever, so a
plain wait would hang the process's start with nothing in its log."""

import ray
from ray.exceptions import GetTimeoutError


class RayActorsNotPlaced(RuntimeError):
    """Actors did not start in time: the cluster lacks what they ask for, or loads slowly."""


def started(refs: list, *, what: str, within_s: float) -> list:
    """The answers of ``refs`` (a first call to each actor), or :class:`RayActorsNotPlaced`
    naming the cluster's CPUs and GPUs after ``within_s`` seconds."""
    try:
        return ray.get(refs, timeout=within_s)
    except GetTimeoutError as exc:
        total, free = ray.cluster_resources(), ray.available_resources()
        raise RayActorsNotPlaced(
            f"{what} did not start within {within_s:g} s. The Ray cluster has "
            f"{total.get('CPU', 0):g} CPUs ({free.get('CPU', 0):g} free) and "
            f"{total.get('GPU', 0):g} GPUs ({free.get('GPU', 0):g} free); each scan actor, "
            "index shard and generation actor takes one CPU, or one GPU where it runs on one. "
            "Give the cluster more, ask for fewer (CLEARHOUSE_RAY_SCAN_ACTORS, "
            "CLEARHOUSE_FACE_INDEX_SHARDS, CLEARHOUSE_RAY_GENERATION_ACTORS), or wait longer "
            "(CLEARHOUSE_RAY_START_SECONDS)."
        ) from exc
