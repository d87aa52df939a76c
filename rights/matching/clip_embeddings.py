"""CLIP image embeddings, the IP image check's second way to find a reference picture
(images.py), when the operator names a CLIP model directory (`CLEARHOUSE_CLIP_MODEL_DIR`).

The model is transformers' own CLIP vision tower with its projection
(``CLIPVisionModelWithProjection``) and its PIL image processor: open-clip-torch needs a
torchvision that the CPU torch here cannot import. It is loaded from the directory alone
(``save_pretrained``'s layout, safetensors weights, ``local_files_only``), of the vision
model alone or of a whole CLIPModel: nothing is downloaded or shipped. Embeddings are unit
rows, so a dot product is the cosine.

A model is known by a digest of its files (:attr:`ClipEncoder.model_key`), stored with every
reference's embedding, so that embeddings of two models are never compared.
"""

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from clearhouse.media import MediaLimits, PixelBudget, decode_image
from clearhouse.model_libraries import model_libraries

if TYPE_CHECKING:
    from clearhouse.settings import Settings

#: The files a model directory must hold; their bytes name the model.
MODEL_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")

#: The longest side reference pictures are decoded at for the model: its processor scales the
#: shorter side to 224 (ViT-B and ViT-L) and crops the middle square.
DECODE_SIDE = 448


class ClipModelUnavailable(RuntimeError):
    """The configured directory does not hold a CLIP vision model that loads."""


@dataclass(frozen=True)
class ClipEmbeddings:
    """Pictures' embeddings by one model: unit float32 rows, one per picture."""

    model_key: str
    vectors: npt.NDArray[np.float32]  # (n, dimension)


@dataclass(frozen=True)
class ClipMatching:
    """How an API process matches by embedding: the model's directory (the media workers
    load it from there), its key, and the cosine at or above which a picture matches."""

    model_dir: Path
    model_key: str
    min_cosine: float


class ClipEncoder:
    """One loaded model; thread-safe for inference."""

    def __init__(self, *, model, processor, model_key: str) -> None:
        self.model = model
        self.processor = processor
        self.model_key = model_key

    def embed(self, pictures: Sequence[npt.NDArray[np.uint8]]) -> ClipEmbeddings:
        """The embeddings of decoded RGB pictures (uint8, (h, w, 3))."""
        import torch

        if not pictures:
            return ClipEmbeddings(self.model_key, np.zeros((0, self.dimension), np.float32))
        rgb = [np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p for p in pictures]
        inputs = self.processor(images=rgb, return_tensors="pt")
        with torch.inference_mode():
            vectors = self.model(pixel_values=inputs["pixel_values"]).image_embeds
        vectors = vectors.float().numpy()
        return ClipEmbeddings(
            self.model_key, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        )

    @property
    def dimension(self) -> int:
        return int(self.model.config.projection_dim)


def embed_pictures(
    encoder: ClipEncoder,
    pictures: Sequence[bytes | npt.NDArray[np.uint8]],
    *,
    limits: MediaLimits | None = None,
    budget: PixelBudget | None = None,
) -> ClipEmbeddings:
    """The embeddings of uploaded pictures (decoded within ``limits`` at most ``DECODE_SIDE``
    a side, charged to ``budget``: the request's, or one for them all) or decoded uint8 RGB
    or grey arrays."""
    limits = replace(limits or MediaLimits(), max_side=DECODE_SIDE)
    budget = budget or PixelBudget(limits)
    return encoder.embed(
        [
            decode_image(picture, limits=limits, budget=budget).rgb
            if isinstance(picture, bytes)
            else picture
            for picture in pictures
        ]
    )


def embedding_bytes(embedding: npt.NDArray[np.float32]) -> bytes:
    """As stored: float32, little-endian."""
    return np.asarray(embedding, dtype="<f4").tobytes()


def embedding_from_bytes(data: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


@model_libraries()
def load_clip_encoder(model_dir: Path) -> ClipEncoder:
    """The model of ``model_dir``, checked by embedding one picture; ClipModelUnavailable
    saying what is wrong otherwise."""
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ClipModelUnavailable(
            f"{model_dir} holds no {', '.join(missing)}: CLEARHOUSE_CLIP_MODEL_DIR names a "
            "transformers CLIP model directory as save_pretrained writes it (the vision model "
            "with its projection, safetensors weights, and its image processor)"
        )
    from safetensors import SafetensorError
    from transformers import CLIPImageProcessorPil, CLIPVisionModelWithProjection

    try:
        model = CLIPVisionModelWithProjection.from_pretrained(
            str(model_dir),
            config=_vision_config(model_dir),
            local_files_only=True,
            use_safetensors=True,
        ).eval()
        processor = CLIPImageProcessorPil.from_pretrained(str(model_dir), local_files_only=True)
        encoder = ClipEncoder(model=model, processor=processor, model_key=_model_key(model_dir))
        encoder.embed([np.zeros((32, 32, 3), dtype=np.uint8)])
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as error:
        raise ClipModelUnavailable(
            f"cannot load the CLIP model in {model_dir}: {error}; CLEARHOUSE_CLIP_MODEL_DIR "
            "names a transformers CLIPVisionModelWithProjection or CLIPModel directory"
        ) from error
    return encoder


def _vision_config(model_dir: Path):
    """The vision tower's configuration. A whole CLIPModel's directory (text tower too, as
    OpenAI's checkpoints are published) keeps the projection's width beside the towers'
    configurations, where the vision one alone would not find it."""
    from transformers import CLIPConfig, CLIPVisionConfig

    if json.loads((model_dir / "config.json").read_text()).get("model_type") != "clip":
        return CLIPVisionConfig.from_pretrained(str(model_dir), local_files_only=True)
    whole = CLIPConfig.from_pretrained(str(model_dir), local_files_only=True)
    whole.vision_config.projection_dim = whole.projection_dim
    return whole.vision_config


_load_lock = threading.Lock()
_encoders: dict[Path, ClipEncoder] = {}


def clip_encoder(model_dir: Path) -> ClipEncoder:
    """The model of ``model_dir``, loaded once per process (in media workers, on first use)."""
    encoder = _encoders.get(model_dir)
    if encoder is None:
        with _load_lock:
            encoder = _encoders.get(model_dir)
            if encoder is None:
                encoder = _encoders[model_dir] = load_clip_encoder(model_dir)
    return encoder


def _model_key(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in MODEL_FILES:
        with open(model_dir / name, "rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())
    return f"clip-vision/{digest.hexdigest()[:32]}"


def start_clip_matching(settings: "Settings") -> ClipMatching | None:
    """What `CLEARHOUSE_CLIP_MODEL_DIR` names, checked at start: None when unset;
    ClipModelUnavailable when it does not load. The API process does not keep the model:
    media workers load their own."""
    if settings.clip_model_dir is None:
        return None
    encoder = load_clip_encoder(settings.clip_model_dir)
    return ClipMatching(
        model_dir=settings.clip_model_dir,
        model_key=encoder.model_key,
        min_cosine=settings.clip_min_cosine,
    )
