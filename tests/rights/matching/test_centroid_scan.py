"""The centroid scan reads float16 copies and returns what a float32 scan of every centroid
returns: the same slots, best first, also where float16 rounding reorders the scores."""

import numpy as np
import pytest

from rights.matching import centroid_scan
from rights.matching.centroid_scan import CentroidScan

DIMENSION = 384


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def filled(centroids: np.ndarray, *, capacity: int, removed=()) -> CentroidScan:
    scan = CentroidScan(dimension=centroids.shape[1], capacity=capacity)
    for slot, centroid in enumerate(centroids):
        scan.put(slot, centroid)
    for slot in removed:
        scan.remove(slot)
    return scan


def crowded(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """A query and centroids whose scores against it are 1e-7 apart (0.1, 0.1000001, ...): far
    apart for float32 (7e-9 there), well within what float16 rounding moves a score (1e-5
    typically, up to 5e-4): a hundred places, more than the margin fetched."""
    query = unit_rows(rng.standard_normal((1, DIMENSION)))[0]
    others = rng.standard_normal((count, DIMENSION))
    others = unit_rows(others - np.outer(others @ query, query))  # orthogonal to the query
    scores = 0.1 + 1e-7 * rng.permutation(count)
    centroids = scores[:, None] * query + np.sqrt(1 - scores**2)[:, None] * others
    return query, centroids.astype(np.float32)


def test_the_closest_slots_are_those_of_a_float32_scan():
    rng = np.random.default_rng(8)
    centroids = unit_rows(rng.standard_normal((3000, DIMENSION)))
    removed = rng.choice(3000, size=300, replace=False)
    scan = filled(centroids, capacity=4096, removed=removed)
    for query in unit_rows(centroids[:40] + 0.3 * rng.standard_normal((40, DIMENSION))):
        closest = scan.closest(query, 64, centroids=centroids)
        assert closest.tolist() == scan.scan_all(query, 64, centroids=centroids).tolist()
        assert not set(closest.tolist()) & set(removed.tolist())


def test_scores_crowded_at_the_boundary_are_settled_exactly():
    query, centroids = crowded(np.random.default_rng(9), 2000)
    scan = filled(centroids, capacity=2048)
    exact = np.argsort(-(centroids @ query), kind="stable")[:64]
    assert scan.closest(query, 64, centroids=centroids).tolist() == exact.tolist()


def test_trusting_the_float16_order_would_return_other_slots(monkeypatch):
    """What the bound protects against: with no margin fetched and no bound checked, the same
    crowded scores come back as float16 ranks them, which is not the float32 order."""
    monkeypatch.setattr(centroid_scan, "MARGIN", 0)
    monkeypatch.setattr(centroid_scan, "SCORE_BOUND", -np.inf)
    query, centroids = crowded(np.random.default_rng(9), 2000)
    scan = filled(centroids, capacity=2048)
    exact = np.argsort(-(centroids @ query), kind="stable")[:64]
    assert set(scan.closest(query, 64, centroids=centroids).tolist()) != set(exact.tolist())


@pytest.mark.parametrize("live", [1, 5, 64, 96, 97])
def test_a_catalogue_with_few_live_slots_returns_them_all_or_the_best(live):
    rng = np.random.default_rng(live)
    centroids = unit_rows(rng.standard_normal((live, DIMENSION)))
    scan = filled(centroids, capacity=128)
    query = centroids[0]
    count = min(64, live)
    closest = scan.closest(query, count, centroids=centroids)
    assert closest.tolist() == scan.scan_all(query, count, centroids=centroids).tolist()
    assert closest[0] == 0


def test_slots_written_after_growing_are_found():
    rng = np.random.default_rng(3)
    centroids = unit_rows(rng.standard_normal((300, DIMENSION)))
    scan = CentroidScan(dimension=DIMENSION, capacity=64)
    for slot, centroid in enumerate(centroids):
        if slot == scan._capacity:
            scan.grow(2 * slot)
        scan.put(slot, centroid)
    for slot in (0, 63, 64, 299):
        assert scan.closest(centroids[slot], 64, centroids=centroids)[0] == slot
