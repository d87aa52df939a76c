"""A tiny untrained text-to-image pipeline, so the whole generation path runs on a CPU in
seconds with nothing downloaded: its frames are noise.

A Stable Diffusion pipeline in miniature: a CLIP text encoder, a UNet and a VAE built from
small configurations with weights drawn from a fixed seed, a DDIM scheduler, and a tokenizer
made on the spot (a WordLevel model over single characters, so every letter of a prompt
conditions the frames). It is built once into ``cache_dir`` (the app uses the data dir's
``models/``, beside the text check's ONNX graph) with ``save_pretrained`` and loaded from
there with ``from_pretrained``, exactly as an operator's model directory is: one code path.
"""

import os
import shutil
import string
from pathlib import Path

from clearhouse.model_libraries import model_libraries

# Names the recipe: a change to it is a new directory, never a rebuild under the old name.
RECIPE = "tiny-untrained-sd-v1"
_SEED = 20260601
_TEXT_WIDTH = 16  # the text encoder's width, which the UNet's cross-attention reads
_MAX_TOKENS = 77  # CLIP's own: a prompt's first 77 characters count


def tiny_pipeline_dir(cache_dir: Path) -> Path:
    """The tiny pipeline's model directory in ``cache_dir``, built there first if missing."""
    path = cache_dir / RECIPE
    if not (path / "model_index.json").exists():
        _build(path)
    return path


@model_libraries()
def _build(path: Path) -> None:
    """Build into a folder of our own and rename it into place: a process that loses the
    race to another finds the other's complete build and drops its own."""
    import torch
    from diffusers import StableDiffusionPipeline

    building = path.with_name(f"{path.name}.{os.getpid()}.building")
    shutil.rmtree(building, ignore_errors=True)
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(_SEED)
        pipeline = StableDiffusionPipeline(
            vae=_vae(),
            text_encoder=_text_encoder(),
            tokenizer=_tokenizer(),
            unet=_unet(),
            scheduler=_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        pipeline.save_pretrained(building, safe_serialization=True)
        os.rename(building, path)
    except OSError:
        if not (path / "model_index.json").exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


_PAD, _UNKNOWN = "[PAD]", "[UNK]"


def _vocabulary() -> dict[str, int]:
    symbols = [_PAD, _UNKNOWN, *string.ascii_lowercase, *string.digits]
    return {symbol: index for index, symbol in enumerate(symbols)}


def _tokenizer():
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    characters = Tokenizer(models.WordLevel(vocab=_vocabulary(), unk_token=_UNKNOWN))
    characters.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    characters.pre_tokenizer = pre_tokenizers.Split(Regex(r"\S"), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=characters,
        unk_token=_UNKNOWN,
        pad_token=_PAD,
        model_max_length=_MAX_TOKENS,
    )


def _text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(_vocabulary()),
            hidden_size=_TEXT_WIDTH,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=_MAX_TOKENS,
            pad_token_id=0,
            bos_token_id=0,
            eos_token_id=0,
        )
    )


def _unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=_TEXT_WIDTH,
        attention_head_dim=4,
        norm_num_groups=8,
    )


def _vae():
    from diffusers import AutoencoderKL

    # Three blocks: latents are a quarter of the frame's side, as few pixels as the UNet needs.
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )


def _scheduler():
    from diffusers import DDIMScheduler

    # Stable Diffusion's own schedule.
    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
