"""The sentence encoder: the packaged MiniLM run through ONNX Runtime (int8 weights) embeds
close to the model under sentence-transformers, the same in a batch as alone, and is built
once per cache."""

import numpy as np
import pytest

from rights.matching import encoder as encoder_module
from rights.matching.encoder import SentenceEncoder

TEXTS = [
    "an Italian plumber in a red cap and blue overalls jumping on mushrooms",
    "a cat",
    "a rain-slick city street at night filmed in stark high-contrast black and white, heavy "
    "film grain everywhere, the only colour the deep crimson of a woman's coat",
    "Z\u0430ppik",  # a Cyrillic a
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> SentenceEncoder:
    return SentenceEncoder(cache_dir=tmp_path_factory.mktemp("models"))


def test_embeddings_agree_with_sentence_transformers(built):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(encoder_module.packaged_model_dir()), device="cpu")
    reference.max_seq_length = encoder_module.MAX_TOKENS
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    ours = built.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert (ours * expected).sum(axis=1).min() > encoder_module._QUANTIZED_AGREEMENT


def test_a_text_embeds_the_same_whatever_it_is_encoded_with(built):
    together = built.encode(TEXTS)
    alone = np.stack([built.encode_one(text) for text in TEXTS])
    assert np.array_equal(together, alone)


def test_the_graph_is_built_once_per_cache_and_reused(built, monkeypatch):
    built.encode_one("warm")
    (graph,) = built.cache_dir.glob("*.onnx")
    stamp = graph.stat().st_mtime_ns

    def fail(path):
        raise AssertionError("rebuilt a graph that was cached")

    monkeypatch.setattr(encoder_module, "_build_graph", fail)
    monkeypatch.setattr(encoder_module, "_runtimes", {})  # as a new process would start
    again = SentenceEncoder(cache_dir=built.cache_dir)
    assert np.allclose(again.encode_one("a cat"), built.encode_one("a cat"))
    assert graph.stat().st_mtime_ns == stamp
    assert [p.name for p in built.cache_dir.iterdir()] == [graph.name]  # no leftovers


def test_a_graph_that_embeds_differently_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(encoder_module, "_QUANTIZED_AGREEMENT", 1.01)  # none agrees this well
    with pytest.raises(RuntimeError, match="embeds differently"):
        SentenceEncoder(cache_dir=tmp_path).encode_one("a cat")
    assert list(tmp_path.iterdir()) == []  # nothing half-built left to be used
