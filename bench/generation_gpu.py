"""What one GPU node makes: clips from a full-size pipeline on CUDA, as the generation actor
makes them. Prints one JSON line (its rows ``null`` without CUDA).

    .venv/bin/python bench/generation_gpu.py
    .venv/bin/python bench/generation_gpu.py --batches 8 --repeats 1 --duration-ms 1000
    .venv/bin/python bench/generation_gpu.py --compile   # the UNet by torch.compile

Stable Diffusion 1.x's UNet, VAE and CLIP text encoder at full size, built from their
configurations with untrained weights (the frames are noise; untrained weights cost what
trained ones do), in half precision, with the tiny pipeline's tokenizer and scheduler, driven
by :class:`generator.pipeline.ClipPipeline` at the API's default 8 frames a second. For each
``frames_per_batch`` (frames denoised together in one run), one clip of two steps
(``warm_up_s``: kernels chosen, memory taken, with ``--compile`` the UNet compiled for that
shape, as ``CLEARHOUSE_GENERATOR_COMPILE`` does), then ``--repeats`` timed: seconds a clip
(median), frames a second, clips a minute, and the GPU memory a clip took at its peak.
``bench/generation.py`` times the checks against the same pipeline when CUDA is present.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ first on the path: put the repository root there.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from generator.pipeline import ClipPipeline, frame_count, load_clip_pipeline

FPS = 8  # the API's default
PROMPT = "Nova Knight rides a comet over a quiet sea"


def full_size_pipeline(tiny: ClipPipeline, *, device: str) -> ClipPipeline:
    """Stable Diffusion 1.x's UNet, VAE and CLIP text encoder at full size, built from their
    configurations (untrained), with the tiny pipeline's tokenizer and scheduler; half
    precision on CUDA."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny.diffusion.tokenizer
    diffusion = StableDiffusionPipeline(
        # UNet2DConditionModel's defaults are SD 1.x's but for the text width (CLIP-L's 768).
        unet=UNet2DConditionModel(sample_size=64, cross_attention_dim=768),
        vae=AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=512,
        ),
        text_encoder=CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
                max_position_embeddings=tokenizer.model_max_length,
                pad_token_id=0,
                bos_token_id=0,
                eos_token_id=0,
            )
        ),
        tokenizer=tokenizer,
        scheduler=tiny.diffusion.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    dtype = torch.float16 if device == "cuda" else torch.float32
    diffusion.to(device, dtype)
    diffusion.set_progress_bar_config(disable=True)
    return ClipPipeline(diffusion=diffusion, device=device, model="full-size-sd1-untrained")


def clip_figures(
    pipeline: ClipPipeline, *, frames: int, side: int, steps: int, repeats: int
) -> dict[str, Any]:
    """One unmeasured clip of two steps (the kernels chosen, the memory taken), then the
    median of ``repeats`` timed ones."""
    import torch

    def make(seed: int, steps: int) -> float:
        started = time.perf_counter()
        pipeline(prompt=PROMPT, seed=seed, frame_count=frames, width=side, height=side, steps=steps)
        torch.cuda.synchronize()
        return time.perf_counter() - started

    warm_up_s = make(0, 2)
    torch.cuda.reset_peak_memory_stats()
    seconds = statistics.median(make(seed, steps) for seed in range(1, repeats + 1))
    return {
        "frames_per_batch": pipeline.frames_per_batch,
        "warm_up_s": round(warm_up_s, 1),
        "clip_s": round(seconds, 3),
        "frames_per_s": round(frames / seconds, 2),
        "clips_per_minute": round(60 / seconds, 2),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-ms", type=int, default=5000)
    parser.add_argument("--side", type=int, default=512, help="the frames' width and height")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps of each frame")
    parser.add_argument("--batches", default="1,8,16,40", help="frames_per_batch to time")
    parser.add_argument("--repeats", type=int, default=2, help="clips timed at each batch")
    parser.add_argument("--compile", action="store_true", help="the UNet by torch.compile")
    args = parser.parse_args()
    import torch

    frames = frame_count(duration_ms=args.duration_ms, fps=FPS)
    report: dict[str, Any] = {
        "bench": "generation_gpu",
        "clip": {"frames": frames, "fps": FPS, "side": args.side, "steps": args.steps},
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "compiled": args.compile,
        "torch": torch.__version__,
        "rows": None,
    }
    if torch.cuda.is_available():
        with tempfile.TemporaryDirectory() as folder:
            tiny = load_clip_pipeline(model_dir=None, cache_dir=Path(folder))
        full = full_size_pipeline(tiny, device="cuda")
        if args.compile:
            full.diffusion.unet.compile()
        report["rows"] = []
        for batch in (int(size) for size in args.batches.split(",")):
            full.frames_per_batch = batch
            report["rows"].append(
                clip_figures(
                    full, frames=frames, side=args.side, steps=args.steps, repeats=args.repeats
                )
            )
    report["cpus"] = os.cpu_count()
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
