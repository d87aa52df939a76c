"""The diffusion pipeline: a cleared prompt in, the frames of a clip out.

Any diffusers model directory (``model_index.json``, safetensors weights) whose pipeline is a
UNet text-to-image pipeline of the Stable Diffusion family is loaded with ``from_pretrained``
(``CLEARHOUSE_GENERATOR_MODEL_DIR``); tried here: ``StableDiffusionPipeline``, the tiny
untrained one of `tiny_pipeline.py` that stands in when no directory is set (its frames are
noise). Nothing is downloaded (the hub is switched off) and no pickled weights are read
(``use_safetensors``). Torch runs on CUDA, in half precision, when a GPU is present, else on
the CPU.

A clip is made of text-to-image frames: one denoising run per batch of frames, each frame
starting from a point on a spherical walk between two noise draws of the seed, so
consecutive frames differ a little and the clip morphs from one picture to another (not
motion: a text-to-video model is a later step). The same seed gives the same frames.

Progress is reported after every denoising step (steps done of all the clip's steps), and a
caller's cancel check is read before the first step and after each one: a revocation that
lands mid-generation stops it within a step. One ClipPipeline serves one generation at a
time.
"""

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from clearhouse.model_libraries import model_libraries
from generator.errors import GenerationCancelled, UnrunnableGeneration, UnsupportedModel
from generator.tiny_pipeline import tiny_pipeline_dir

if TYPE_CHECKING:
    import torch

    from clearhouse.settings import Settings

# Width and height are multiples of this: Stable Diffusion's own rule (its VAE shrinks 8x),
# which also keeps them even, as H.264 in yuv420p needs.
SIDE_MULTIPLE = 8
# What the clip pipeline passes to the diffusers pipeline it drives.
_DRIVEN_ARGUMENTS = frozenset(
    {
        "prompt",
        "height",
        "width",
        "num_inference_steps",
        "num_images_per_prompt",
        "generator",
        "latents",
        "output_type",
        "callback_on_step_end",
    }
)

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class GeneratedClip:
    """The frames of one generation: ``frames`` is (count, height, width, 3) RGB uint8."""

    frames: npt.NDArray[np.uint8]
    seed: int
    steps: int
    model: str


class ClipPipeline:
    """Text-to-image frames of a clip from a loaded diffusers pipeline (see the module)."""

    def __init__(
        self, *, diffusion: Any, device: str, model: str, frames_per_batch: int = 8
    ) -> None:
        self.diffusion = diffusion
        self.device = device
        self.model = model
        self.frames_per_batch = frames_per_batch

    def __call__(
        self,
        *,
        prompt: str,
        seed: int,
        frame_count: int,
        width: int,
        height: int,
        steps: int,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GeneratedClip:
        _check_request(
            prompt=prompt,
            seed=seed,
            frame_count=frame_count,
            width=width,
            height=height,
            steps=steps,
        )
        import torch

        latents = self._walk(seed=seed, frame_count=frame_count, width=width, height=height)
        batches = [
            latents[start : start + self.frames_per_batch]
            for start in range(0, frame_count, self.frames_per_batch)
        ]
        steps_total = self._steps_per_batch(steps) * len(batches)
        steps_done = 0

        def after_step(diffusion: Any, step: int, timestep: Any, tensors: dict) -> dict:
            nonlocal steps_done
            steps_done += 1
            if on_progress is not None:
                on_progress(steps_done, steps_total)
            if should_cancel is not None and should_cancel():
                raise GenerationCancelled(steps_done=steps_done, steps_total=steps_total)
            return tensors

        frames = []
        with torch.inference_mode():
            for batch in batches:
                if should_cancel is not None and should_cancel():
                    raise GenerationCancelled(steps_done=steps_done, steps_total=steps_total)
                images = self.diffusion(
                    prompt=prompt,
                    height=height,
                    width=width,
                    num_inference_steps=steps,
                    num_images_per_prompt=len(batch),
                    latents=batch.to(self.device, self.diffusion.unet.dtype),
                    output_type="np",
                    callback_on_step_end=after_step,
                ).images
                frames.append(np.rint(np.clip(images, 0, 1) * 255).astype(np.uint8))
        return GeneratedClip(
            frames=np.concatenate(frames), seed=seed, steps=steps, model=self.model
        )

    def _walk(self, *, seed: int, frame_count: int, width: int, height: int) -> "torch.Tensor":
        """Each frame's starting noise, drawn on the CPU so a seed means the same on a GPU."""
        import torch

        scale = self.diffusion.vae_scale_factor
        shape = (self.diffusion.unet.config.in_channels, height // scale, width // scale)
        draws = torch.Generator(device="cpu").manual_seed(seed)
        start = torch.randn(shape, generator=draws)
        end = torch.randn(shape, generator=draws)
        if frame_count == 1:
            return start[None]
        return torch.stack(
            [_slerp(start, end, float(t)) for t in torch.linspace(0, 1, frame_count)]
        )

    def _steps_per_batch(self, steps: int) -> int:
        """Denoising steps of one run: ``steps``, or more for a scheduler of a higher order."""
        self.diffusion.scheduler.set_timesteps(steps)
        return len(self.diffusion.scheduler.timesteps)


def frame_count(*, duration_ms: int, fps: int) -> int:
    """Frames of a clip of ``duration_ms`` at ``fps``: a started frame is a whole one."""
    return max(1, math.ceil(duration_ms * fps / 1000))


def _slerp(start: "torch.Tensor", end: "torch.Tensor", t: float) -> "torch.Tensor":
    """Spherical interpolation: points in between keep the norm of Gaussian noise."""
    cosine = float((start * end).sum() / (start.norm() * end.norm()))
    angle = math.acos(max(-1.0, min(1.0, cosine)))
    if angle < 1e-6:
        return start * (1 - t) + end * t
    return (math.sin((1 - t) * angle) * start + math.sin(t * angle) * end) / math.sin(angle)


def _check_request(
    *, prompt: str, seed: int, frame_count: int, width: int, height: int, steps: int
) -> None:
    if not prompt.strip():
        raise UnrunnableGeneration("give a prompt: it is empty")
    if not 0 <= seed < 2**63:
        raise UnrunnableGeneration(f"give a seed from 0 to 2**63 - 1, not {seed}")
    if frame_count < 1:
        raise UnrunnableGeneration(f"ask for at least one frame, not {frame_count}")
    if steps < 1:
        raise UnrunnableGeneration(f"ask for at least one denoising step, not {steps}")
    for name, side in (("width", width), ("height", height)):
        if side < SIDE_MULTIPLE or side % SIDE_MULTIPLE:
            raise UnrunnableGeneration(
                f"give a {name} that is a positive multiple of {SIDE_MULTIPLE}, not {side}"
            )


@model_libraries()
def load_clip_pipeline(
    *,
    model_dir: Path | None,
    cache_dir: Path,
    frames_per_batch: int = 8,
    compile_unet: bool = False,
) -> ClipPipeline:
    """The pipeline of ``model_dir``, or the tiny untrained one (built into ``cache_dir`` on
    first use) when there is none, on CUDA when present; with ``compile_unet``, its UNet compiled
    by torch.compile (on its first run at each new shape of input)."""
    import torch
    from diffusers import DiffusionPipeline

    directory = model_dir if model_dir is not None else tiny_pipeline_dir(cache_dir)
    if not (directory / "model_index.json").is_file():
        raise UnsupportedModel(
            f"{directory} holds no model_index.json: CLEARHOUSE_GENERATOR_MODEL_DIR names a "
            "diffusers model directory, as save_pretrained writes it"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        diffusion = DiffusionPipeline.from_pretrained(
            str(directory),
            local_files_only=True,
            use_safetensors=True,
            dtype=torch.float16 if device == "cuda" else torch.float32,
        )
    except (OSError, ValueError) as exc:
        raise UnsupportedModel(f"cannot load the model in {directory}: {exc}") from exc
    _check_drivable(diffusion, directory=directory)
    diffusion.to(device)
    diffusion.set_progress_bar_config(disable=True)
    if compile_unet:
        diffusion.unet.compile()
    return ClipPipeline(
        diffusion=diffusion,
        device=device,
        model=directory.name,
        frames_per_batch=frames_per_batch,
    )


def _check_drivable(diffusion: Any, *, directory: Path) -> None:
    from diffusers import UNet2DConditionModel

    missing = _DRIVEN_ARGUMENTS - set(inspect.signature(diffusion.__call__).parameters)
    if missing or not isinstance(getattr(diffusion, "unet", None), UNet2DConditionModel):
        raise UnsupportedModel(
            f"{directory} holds a {type(diffusion).__name__}; the generator drives UNet "
            "text-to-image pipelines of the Stable Diffusion family"
        )


def load_configured_pipeline(settings: "Settings") -> ClipPipeline:
    """The pipeline the settings name: ``generator_model_dir``, else the tiny one built into
    the data dir's ``models/``."""
    return load_clip_pipeline(
        model_dir=settings.generator_model_dir,
        cache_dir=settings.data_dir / "models",
        compile_unet=settings.generator_compile,
    )
