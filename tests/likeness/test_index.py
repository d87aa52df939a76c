"""The face index finds the right likenesses, keeps models apart and forgets removed faces."""

import queue
import subprocess
import sys
import threading
import uuid
from uuid import UUID

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likeness.index import FaceIndex, FaceIndexError, FaceTemplate

DLIB = "dlib/resnet-v1"
ARCFACE = "insightface/w600k_r50"


def unit_vectors(*, count: int, dimension: int = 128, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def near(vector: np.ndarray, *, distance: float, seed: int) -> np.ndarray:
    """A unit vector at chord ``distance`` from ``vector`` (a same-person re-capture)."""
    noise = np.random.default_rng(seed).standard_normal(vector.shape[0]).astype(np.float32)
    noise -= noise.dot(vector) * vector
    noise /= np.linalg.norm(noise)
    cosine = 1 - distance**2 / 2
    return (cosine * vector + np.sqrt(1 - cosine**2) * noise).astype(np.float32)


def enrolled_index(
    *,
    vectors: np.ndarray,
    templates_per_likeness: int = 1,
    model_key: str = DLIB,
    **options: object,
) -> tuple[FaceIndex, list[UUID], list[UUID]]:
    """An index of ``vectors``, consecutive rows grouped into likenesses."""
    index = FaceIndex(**options)  # type: ignore[arg-type]
    likeness_ids = [uuid.uuid4() for _ in range(-(-len(vectors) // templates_per_likeness))]
    template_ids = [uuid.uuid4() for _ in range(len(vectors))]
    index.add_template_batch(
        model_key=model_key,
        template_ids=template_ids,
        likeness_ids=[likeness_ids[row // templates_per_likeness] for row in range(len(vectors))],
        embeddings=vectors,
    )
    return index, likeness_ids, template_ids


def brute_force(
    *, vectors: np.ndarray, owners: list[int], query: np.ndarray, k: int, floor: float
) -> list[tuple[int, float]]:
    """Best similarity per likeness, best first, the index's contract done the slow way."""
    similarities = vectors @ (query / np.linalg.norm(query))
    best: dict[int, float] = {}
    for row, similarity in enumerate(similarities.tolist()):
        if similarity >= floor and similarity > best.get(owners[row], -2.0):
            best[owners[row]] = similarity
    return sorted(best.items(), key=lambda item: -item[1])[:k]


def test_importing_the_index_loads_neither_torch_nor_faiss() -> None:
    code = (
        "import sys, likeness.index\n"
        "assert 'torch' not in sys.modules and 'faiss' not in sys.modules, 'heavy import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(min_value=1, max_value=60),
    per_likeness=st.integers(min_value=1, max_value=4),
    k=st.integers(min_value=1, max_value=8),
    floor=st.sampled_from([-1.0, 0.0, 0.2]),
    chunk_rows=st.sampled_from([1, 7, 64]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_exact_search_equals_brute_force(
    count: int, per_likeness: int, k: int, floor: float, chunk_rows: int, seed: int
) -> None:
    vectors = unit_vectors(count=count, dimension=16, seed=seed)
    index, likeness_ids, _ = enrolled_index(
        vectors=vectors, templates_per_likeness=per_likeness, device="numpy", chunk_rows=chunk_rows
    )
    queries = unit_vectors(count=3, dimension=16, seed=seed + 1)
    owners = [row // per_likeness for row in range(count)]
    for query, matches in zip(
        queries,
        index.search(model_key=DLIB, queries=queries, k=k, min_similarity=floor),
        strict=True,
    ):
        expected = brute_force(vectors=vectors, owners=owners, query=query, k=k, floor=floor)
        assert [match.likeness_id for match in matches] == [likeness_ids[o] for o, _ in expected]
        assert [m.similarity for m in matches] == pytest.approx([s for _, s in expected], abs=1e-5)


def test_torch_on_cpu_agrees_with_numpy() -> None:
    vectors = unit_vectors(count=3000, seed=1)
    numpy_index, _, template_ids = enrolled_index(vectors=vectors, device="numpy", chunk_rows=1000)
    torch_index = FaceIndex(device="cpu", chunk_rows=1000)
    torch_index.add_template_batch(
        model_key=DLIB,
        template_ids=template_ids,
        likeness_ids=[uuid.uuid4() for _ in template_ids],
        embeddings=vectors,
    )
    queries = unit_vectors(count=40, seed=2)
    by_numpy = numpy_index.search(model_key=DLIB, queries=queries, k=5)
    by_torch = torch_index.search(model_key=DLIB, queries=queries, k=5)
    for left, right in zip(by_numpy, by_torch, strict=True):
        assert [m.template_id for m in left] == [m.template_id for m in right]
        assert [m.similarity for m in left] == pytest.approx(
            [m.similarity for m in right], abs=1e-5
        )


def test_a_likeness_with_several_templates_appears_once_at_its_best() -> None:
    anchor = unit_vectors(count=1, seed=3)[0]
    vectors = np.stack([near(anchor, distance=d, seed=i) for i, d in enumerate([0.1, 0.2, 0.3])])
    others = unit_vectors(count=50, seed=4)
    for device in ("numpy", "cpu"):
        index, likeness_ids, template_ids = enrolled_index(
            vectors=np.concatenate([vectors, others[:1]]),
            templates_per_likeness=3,
            device=device,
        )
        index.add_template_batch(
            model_key=DLIB,
            template_ids=[uuid.uuid4() for _ in range(49)],
            likeness_ids=[uuid.uuid4() for _ in range(49)],
            embeddings=others[1:],
        )
        matches = index.search(model_key=DLIB, queries=anchor, k=4)[0]
        assert len(matches) == 4
        assert len({match.likeness_id for match in matches}) == 4
        assert matches[0].likeness_id == likeness_ids[0]
        assert matches[0].template_id == template_ids[0]
        assert matches[0].similarity == pytest.approx(1 - 0.1**2 / 2, abs=1e-5)


def test_models_are_never_compared() -> None:
    index = FaceIndex(device="numpy")
    dlib_face = unit_vectors(count=1, dimension=128, seed=5)[0]
    arcface_face = unit_vectors(count=1, dimension=512, seed=6)[0]
    dlib_likeness, arcface_likeness = uuid.uuid4(), uuid.uuid4()
    index.add_template(
        template_id=uuid.uuid4(), likeness_id=dlib_likeness, model_key=DLIB, embedding=dlib_face
    )
    index.add_template(
        template_id=uuid.uuid4(),
        likeness_id=arcface_likeness,
        model_key=ARCFACE,
        embedding=arcface_face,
    )
    # Same dimension under another model key: still never a match for dlib queries.
    index.add_template(
        template_id=uuid.uuid4(),
        likeness_id=uuid.uuid4(),
        model_key="dlib/resnet-v2",
        embedding=dlib_face,
    )
    assert [m.likeness_id for m in index.search(model_key=DLIB, queries=dlib_face)[0]] == [
        dlib_likeness
    ]
    assert [m.likeness_id for m in index.search(model_key=ARCFACE, queries=arcface_face)[0]] == [
        arcface_likeness
    ]
    with pytest.raises(FaceIndexError, match="dimension 128 but this model's templates have"):
        index.search(model_key=ARCFACE, queries=dlib_face)
    with pytest.raises(FaceIndexError, match="dimension"):
        index.add_template(
            template_id=uuid.uuid4(),
            likeness_id=uuid.uuid4(),
            model_key=DLIB,
            embedding=arcface_face,
        )
    assert index.search(model_key="nobody/enrolled", queries=dlib_face) == [[]]


def test_bad_embeddings_are_refused_and_scaled_ones_normalised() -> None:
    index = FaceIndex(device="numpy")
    face = unit_vectors(count=1, seed=7)[0]
    likeness_id, template_id = uuid.uuid4(), uuid.uuid4()
    index.add_template(
        template_id=template_id, likeness_id=likeness_id, model_key=DLIB, embedding=face * 1.39
    )
    assert index.search(model_key=DLIB, queries=face * 3)[0][0].similarity == pytest.approx(1.0)
    for bad, message in [
        (np.full(128, np.nan), "NaN"),
        (np.zeros(128), "zero vector"),
        (np.ones((2, 2, 2)), "vector or an"),
    ]:
        with pytest.raises(FaceIndexError, match=message):
            index.add_template(
                template_id=uuid.uuid4(), likeness_id=uuid.uuid4(), model_key=DLIB, embedding=bad
            )
    with pytest.raises(FaceIndexError, match="already in the face index"):
        index.add_template(
            template_id=template_id, likeness_id=likeness_id, model_key=DLIB, embedding=face
        )
    with pytest.raises(FaceIndexError, match="k must be"):
        index.search(model_key=DLIB, queries=face, k=0)
    assert index.count() == 1


@pytest.mark.parametrize("device", ["numpy", "cpu"])
def test_removed_likeness_is_never_returned(device: str) -> None:
    vectors = unit_vectors(count=200, seed=8)
    index, likeness_ids, _ = enrolled_index(
        vectors=vectors, templates_per_likeness=2, device=device, chunk_rows=16
    )
    assert index.remove_likeness(likeness_id=likeness_ids[10]) == 2
    assert index.remove_likeness(likeness_id=likeness_ids[10]) == 0
    assert index.count() == 198
    for matches in index.search(model_key=DLIB, queries=vectors, k=100):
        assert likeness_ids[10] not in {match.likeness_id for match in matches}
    # Every other template is still found as its own best match after the swap-removes.
    for row, matches in enumerate(index.search(model_key=DLIB, queries=vectors, k=1)):
        if row // 2 != 10:
            assert matches[0].likeness_id == likeness_ids[row // 2]


def test_rebuild_replaces_everything() -> None:
    index, old_likenesses, _ = enrolled_index(
        vectors=unit_vectors(count=20, seed=9), device="numpy"
    )
    vectors = unit_vectors(count=30, seed=10)
    templates = [
        FaceTemplate(
            template_id=uuid.uuid4(),
            likeness_id=uuid.uuid4(),
            model_key=DLIB if row % 2 else ARCFACE,
            embedding=vectors[row],
        )
        for row in range(30)
    ]
    assert index.rebuild(templates=templates) == 30
    assert index.count(model_key=DLIB) == 15
    assert index.count(model_key=ARCFACE) == 15
    found = index.search(model_key=DLIB, queries=vectors, k=30)
    assert not {m.likeness_id for row in found for m in row} & set(old_likenesses)
    assert found[1][0].template_id == templates[1].template_id


def test_switches_to_faiss_past_the_threshold_and_forgets_removed_likenesses() -> None:
    vectors = unit_vectors(count=4000, seed=11)
    index = FaceIndex(device="numpy", approximate_threshold=3000)
    likeness_ids = [uuid.uuid4() for _ in range(2000)]
    template_ids = [uuid.uuid4() for _ in range(4000)]
    index.add_template_batch(
        model_key=DLIB,
        template_ids=template_ids[:3000],
        likeness_ids=[likeness_ids[row // 2] for row in range(3000)],
        embeddings=vectors[:3000],
    )
    assert not index.is_approximate(model_key=DLIB)
    index.add_template(
        template_id=template_ids[3000],
        likeness_id=likeness_ids[1500],
        model_key=DLIB,
        embedding=vectors[3000],
    )
    assert index.is_approximate(model_key=DLIB)
    assert index.memory_bytes() <= 1.2 * index.vector_bytes()
    # Single adds after the switch land in FAISS too, and compaction keeps them.
    for row in range(3001, 3100):
        index.add_template(
            template_id=template_ids[row],
            likeness_id=likeness_ids[row // 2],
            model_key=DLIB,
            embedding=vectors[row],
        )
    rows = np.arange(0, 3100, 7)
    queries = np.stack([near(vectors[row], distance=0.2, seed=int(row)) for row in rows])
    found = index.search(model_key=DLIB, queries=queries, k=3)
    for row, matches in zip(rows.tolist(), found, strict=True):
        assert matches[0].likeness_id == likeness_ids[row // 2]
        assert matches[0].template_id == template_ids[row]
        assert len({m.likeness_id for m in matches}) == len(matches)
    removed = {likeness_ids[row // 2] for row in rows[::2].tolist()}
    for likeness_id in removed:
        assert index.remove_likeness(likeness_id=likeness_id) >= 1
    for matches in index.search(model_key=DLIB, queries=queries, k=10):
        assert not removed & {m.likeness_id for m in matches}
    assert index.count() == 3100 - sum(
        1 for row in range(3100) if likeness_ids[row // 2] in removed
    )


def test_concurrent_adds_searches_and_removals() -> None:
    index = FaceIndex(device="numpy", approximate_threshold=1500, chunk_rows=256)
    vectors = unit_vectors(count=3000, seed=12)
    likeness_ids = [uuid.uuid4() for _ in range(3000)]
    added: queue.Queue[int | None] = queue.Queue()
    removed: set[UUID] = set()
    removed_lock = threading.Lock()
    failures: list[BaseException] = []

    def adder(start: int) -> None:
        for row in range(start, 3000, 2):
            index.add_template(
                template_id=uuid.uuid4(),
                likeness_id=likeness_ids[row],
                model_key=DLIB,
                embedding=vectors[row],
            )
            added.put(row)
        added.put(None)

    def remover() -> None:
        # Removes every fifth likeness once its add has returned, as a revoke would.
        finished = 0
        while finished < 2:
            row = added.get()
            if row is None:
                finished += 1
            elif row % 5 == 0:
                assert index.remove_likeness(likeness_id=likeness_ids[row]) == 1
                with removed_lock:
                    removed.add(likeness_ids[row])

    def searcher(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(60):
            with removed_lock:
                gone = set(removed)
            rows = rng.integers(0, 3000, size=4)
            for matches in index.search(model_key=DLIB, queries=vectors[rows], k=5):
                assert not gone & {m.likeness_id for m in matches}

    def guarded(target, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            target(*args)
        except BaseException as error:  # re-raised in the main thread
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(adder, start)) for start in (0, 1)]
    threads += [threading.Thread(target=guarded, args=(searcher, seed)) for seed in (1, 2)]
    threads.append(threading.Thread(target=guarded, args=(remover,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert index.is_approximate(model_key=DLIB)
    assert index.count() == 3000 - 600
    survivors = index.search(model_key=DLIB, queries=vectors, k=1)
    assert not removed & {m.likeness_id for row in survivors for m in row}
