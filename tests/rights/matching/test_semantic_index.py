"""The semantic index's bookkeeping: slots reused, removed assets never returned, word weights
following the catalogue. Vectors here are made up; the model is tested in test_matcher.py."""

import uuid

import numpy as np

from rights.matching.semantic_index import SemanticIndex


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_best_of_an_assets_texts_is_its_similarity():
    index = SemanticIndex(dimension=3)
    asset = uuid.uuid4()
    index.put(asset, np.stack([unit(1, 0, 0), unit(0, 1, 0)]), frozenset({"owl"}))
    (score,) = index.search(unit(0, 1, 0), frozenset())
    assert score.asset_id == asset
    assert score.similarity == 1.0  # the second text, not the centroid (0.71)


def test_removed_assets_are_never_returned_even_when_few_remain():
    index = SemanticIndex(dimension=3, candidates=2)
    kept, removed = uuid.uuid4(), [uuid.uuid4() for _ in range(100)]
    for asset in removed:
        index.put(asset, np.stack([unit(1, 0, 0)]), frozenset({"owl"}))
    index.put(kept, np.stack([unit(-1, 0.1, 0)]), frozenset({"fox"}))  # far from the query
    for asset in removed:
        index.remove(asset)
    assert [s.asset_id for s in index.search(unit(1, 0, 0), frozenset({"owl"}))] == [kept]
    assert len(index) == 1


def test_slots_are_reused_and_replacing_an_asset_keeps_one_entry():
    index = SemanticIndex(dimension=3)
    asset = uuid.uuid4()
    for _ in range(500):
        index.put(asset, np.stack([unit(1, 1, 0)]), frozenset({"owl"}))
    assert len(index) == 1
    assert len(index.search(unit(1, 1, 0), frozenset({"owl"}))) == 1
    assert len(index._ids) == 64  # never grew


def test_a_word_used_by_fewer_assets_weighs_more_and_weights_follow_removals():
    index = SemanticIndex(dimension=3)
    rare, common = uuid.uuid4(), [uuid.uuid4() for _ in range(50)]
    index.put(rare, np.stack([unit(1, 0, 0)]), frozenset({"deerstalker", "red"}))
    for asset in common:
        index.put(asset, np.stack([unit(0, 1, 0)]), frozenset({"red"}))
    scores = {s.asset_id: s for s in index.search(unit(1, 0, 0), frozenset({"deerstalker"}))}
    assert 0.8 < scores[rare].overlap <= 1.0
    red = {s.asset_id: s.overlap for s in index.search(unit(1, 0, 0), frozenset({"red"}))}
    assert red[rare] < 0.1
    for asset in common:
        index.remove(asset)
    (alone,) = index.search(unit(1, 0, 0), frozenset({"red"}))
    assert alone.overlap > red[rare]
