"""The diffusion pipeline on the CPU, with the tiny untrained model (its frames are noise)."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from clearhouse.settings import Settings
from generator.errors import GenerationCancelled, UnrunnableGeneration, UnsupportedModel
from generator.pipeline import ClipPipeline, load_clip_pipeline, load_configured_pipeline
from generator.tiny_pipeline import RECIPE, tiny_pipeline_dir

SMALL = {"prompt": "Nova Knight guarding a lighthouse", "width": 64, "height": 48, "steps": 3}


def _weights(directory) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*.safetensors"))
    }


def test_the_tiny_pipeline_is_built_once_into_the_data_dir_and_loaded_from_it(
    clip_pipeline, generator_settings, tmp_path
):
    directory = generator_settings.data_dir / "models" / RECIPE
    assert (directory / "model_index.json").is_file()
    assert set(_weights(directory)) == {
        "text_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    }
    assert clip_pipeline.model == RECIPE
    assert type(clip_pipeline.diffusion).__name__ == "StableDiffusionPipeline"
    assert clip_pipeline.device == "cpu"
    # Built from a fixed seed: another build has the same weights, byte for byte.
    assert _weights(tiny_pipeline_dir(tmp_path)) == _weights(directory)


def test_a_model_directory_in_settings_is_loaded_the_same_way(generator_settings, clip_pipeline):
    directory = generator_settings.data_dir / "models" / RECIPE
    operators = load_configured_pipeline(
        Settings(data_dir=generator_settings.data_dir, generator_model_dir=directory)
    )
    clip = operators(seed=5, frame_count=2, **SMALL)
    assert np.array_equal(clip.frames, clip_pipeline(seed=5, frame_count=2, **SMALL).frames)


def test_the_compile_setting_compiles_the_unet_and_only_then(generator_settings):
    """Compiled on its first run (bench/generation_gpu.py --compile times that on a GPU);
    torch keeps the compiled call in ``_compiled_call_impl``, None until ``compile()``."""
    directory = generator_settings.data_dir
    compiled = load_configured_pipeline(Settings(data_dir=directory, generator_compile=True))
    plain = load_configured_pipeline(Settings(data_dir=directory))
    assert compiled.diffusion.unet._compiled_call_impl is not None
    assert plain.diffusion.unet._compiled_call_impl is None


def test_a_directory_without_a_model_is_refused(tmp_path):
    with pytest.raises(UnsupportedModel, match=r"model_index\.json"):
        load_clip_pipeline(model_dir=tmp_path, cache_dir=tmp_path / "models")


def test_frames_have_the_size_asked_and_a_seed_gives_the_same_clip(clip_pipeline):
    clip = clip_pipeline(seed=7, frame_count=3, **SMALL)
    assert clip.frames.shape == (3, 48, 64, 3)
    assert clip.frames.dtype == np.uint8
    assert (clip.seed, clip.steps, clip.model) == (7, 3, RECIPE)
    assert np.array_equal(clip.frames, clip_pipeline(seed=7, frame_count=3, **SMALL).frames)
    assert not np.array_equal(clip.frames, clip_pipeline(seed=8, frame_count=3, **SMALL).frames)
    # A clip, not one picture repeated: each frame moves on from the one before.
    assert all(not np.array_equal(clip.frames[i], clip.frames[i + 1]) for i in range(2))


def test_the_prompt_conditions_the_frames(clip_pipeline):
    other = {**SMALL, "prompt": "a red bicycle"}
    assert not np.array_equal(
        clip_pipeline(seed=7, frame_count=1, **SMALL).frames,
        clip_pipeline(seed=7, frame_count=1, **other).frames,
    )


def test_progress_sees_every_step_of_every_batch(clip_pipeline):
    in_pairs = ClipPipeline(
        diffusion=clip_pipeline.diffusion,
        device=clip_pipeline.device,
        model=clip_pipeline.model,
        frames_per_batch=2,
    )
    seen = []
    clip = in_pairs(seed=3, frame_count=3, on_progress=lambda *step: seen.append(step), **SMALL)
    assert seen == [(done, 6) for done in range(1, 7)]  # two batches of three steps
    # Batching changes the frames by rounding at most.
    whole = clip_pipeline(seed=3, frame_count=3, **SMALL).frames
    assert np.abs(clip.frames.astype(int) - whole).max() <= 1


@pytest.mark.parametrize("cancel_after", [0, 2])
def test_a_cancel_stops_the_generation_at_the_next_step(clip_pipeline, cancel_after):
    seen = []
    with pytest.raises(GenerationCancelled) as cancelled:
        clip_pipeline(
            seed=1,
            frame_count=2,
            on_progress=lambda *step: seen.append(step),
            should_cancel=lambda: len(seen) >= cancel_after,
            **{**SMALL, "steps": 6},
        )
    # Before the first step (no step runs) or right after the step that saw it.
    assert seen == [(done, 6) for done in range(1, cancel_after + 1)]
    assert (cancelled.value.steps_done, cancelled.value.steps_total) == (cancel_after, 6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": "  "}, "prompt"),
        ({"width": 60}, "width that is a positive multiple of 8"),
        ({"height": 0}, "height that is a positive multiple of 8"),
        ({"steps": 0}, "at least one denoising step"),
        ({"frame_count": 0}, "at least one frame"),
        ({"seed": -1}, "seed"),
    ],
)
def test_requests_the_pipeline_cannot_run_are_refused_up_front(clip_pipeline, change, message):
    with pytest.raises(UnrunnableGeneration, match=message):
        clip_pipeline(**{**SMALL, "seed": 1, "frame_count": 1, **change})


def test_importing_the_generator_and_the_cli_loads_no_model_library():
    heavy = ("torch", "diffusers", "transformers", "c2pa", "av")
    code = (
        "import sys, clearhouse.cli, generator.pipeline, generator.provenance, generator.video\n"
        "import clearhouse.app, generator.api, generator.tasks, generator.worker\n"
        f"loaded = [name for name in {heavy!r} if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
