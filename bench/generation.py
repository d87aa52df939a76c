"""The checks against the generation they guard: the clearance and the output check as a share
of generating the clip. Prints one JSON line.

    .venv/bin/python bench/generation.py            # a 5-second clip of 256x256, 20 steps
    .venv/bin/python bench/generation.py --quick    # half a second of 64x64, 2 steps (CI)

In one process, with the app's own runtimes (its lifespan, SQLite in a temporary data
directory, no generation worker): a holder registers a character licensed to anyone, and a
creator asks for a clip that names it (``@nova_knight``) at the API's default 8 frames a
second. Timed:

- ``clearance_ms``: :func:`generator.service.request_generation`, all that
  ``POST /v1/generations`` does but HTTP: the prompt scanned, the cameo resolved, the policy
  decided, the quote, the token signed, the job queued; the median of ``--repeats`` requests,
  each with a seed of its own, after an unmeasured one (the text model loaded);
- ``generation_s``: the pipeline making the clip's frames, once;
- ``output_check_ms``: what the worker does to check them: the frames sampled as an uploaded
  video's are (:func:`generator.tasks.output_samples`), then
  :func:`licensing.output_checks.check_output` (faces by dlib in the media workers, the
  reference pictures); the median of ``--repeats``, after an unmeasured one (workers started).

``checks_share`` is (clearance + output check) / generation. Two configurations: the tiny
untrained pipeline on the CPU (torch on ``generator_threads`` threads, as the worker runs it),
and, when CUDA is available, a full-size Stable Diffusion 1.x UNet, VAE and text encoder built
from their configurations with untrained weights, in half precision at 512x512 (``null``
without CUDA). Untrained weights cost what trained ones do: the frames are noise either way.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where likeness.py would shadow the
# project's likeness package: put the repository root there instead (and tests/, for the
# factories that sign accounts up through the API).
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from factories import granted_asset, sign_up
from fastapi.testclient import TestClient
from generating import USD_POLICY

from bench.generation_gpu import full_size_pipeline
from clearhouse.accounts.models import Account
from clearhouse.app import create_app
from clearhouse.db import read_session, utcnow
from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, frame_count, load_configured_pipeline
from generator.schemas import GenerationCreate
from generator.service import request_generation
from generator.tasks import output_samples
from licensing.output_checks import check_output

TARGETS = {"tiny_cpu_checks_share": 0.03, "full_size_cuda_checks_share": 0.01}
PROMPT = "Nova Knight rides a comet over a quiet sea"
FPS = 8  # the API's default


@dataclass(frozen=True)
class Clip:
    duration_ms: int
    width: int
    height: int
    steps: int

    def body(self, seed: int) -> GenerationCreate:
        return GenerationCreate(
            prompt=PROMPT,
            cameos=["@nova_knight"],
            declared_use="commercial",
            duration_ms=self.duration_ms,
            width=self.width,
            height=self.height,
            steps=self.steps,
            fps=FPS,
            seed=seed,
        )


def measure(client: TestClient, *, pipeline: ClipPipeline, clip: Clip, repeats: int) -> dict:
    """The clearance, the generation and the output check of ``clip`` (see the module)."""
    state = client.app.state
    requester = sign_up(client, role="creator")
    with read_session(state.engine) as session:
        account = session.get(Account, requester.id)

    def clear(seed: int):
        return request_generation(
            state.engine,
            requester=account,
            body=clip.body(seed),
            matching=state.matching,
            likeness=state.likeness,
            catalogue=state.reference_catalogue,
            settings=state.settings,
            keys=state.keys,
            now=utcnow(),
        )

    cleared = clear(0)
    if cleared.job is None:
        raise RuntimeError(f"the request was not cleared: {cleared.clearance.decision}")
    seeds = iter(range(1, repeats + 1))
    clearance_ms = _median_ms(lambda: clear(next(seeds)), times=repeats)

    started = time.perf_counter()
    generated = pipeline(
        prompt=PROMPT,
        seed=0,
        frame_count=frame_count(duration_ms=clip.duration_ms, fps=FPS),
        width=clip.width,
        height=clip.height,
        steps=clip.steps,
    )
    generation_s = time.perf_counter() - started

    def check():
        return check_output(
            state.engine,
            requester=account,
            clearance_id=cleared.clearance.clearance.id,
            uploads=output_samples(generated.frames, fps=FPS, settings=state.settings),
            likeness=state.likeness,
            catalogue=state.reference_catalogue,
            now=utcnow(),
            ours=True,
        )

    checked = check()
    output_check_ms = round(_median_ms(check, times=repeats), 2)
    clearance_ms, generation_s = round(clearance_ms, 2), round(generation_s, 3)
    return {
        "clip": {**clip.__dict__, "fps": FPS, "frames": len(generated.frames)},
        "device": pipeline.device,
        "model": pipeline.model,
        "generation_s": generation_s,
        "clearance_ms": clearance_ms,
        "output_check_ms": output_check_ms,
        "output_verdict": checked.verdict.value,
        "checks_share": round((clearance_ms + output_check_ms) / (generation_s * 1000), 5),
        "repeats": repeats,
    }


def _median_ms(call: Callable[[], object], *, times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def on_cpu(pipeline: ClipPipeline) -> ClipPipeline:
    """The pipeline in single precision on the CPU (where CUDA is present it loads there)."""
    import torch

    if pipeline.device == "cpu":
        return pipeline
    return ClipPipeline(
        diffusion=pipeline.diffusion.to("cpu", torch.float32),
        device="cpu",
        model=pipeline.model,
        frames_per_batch=pipeline.frames_per_batch,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-ms", type=int, default=5000)
    parser.add_argument("--width", type=int, default=256, help="of the tiny pipeline's clip")
    parser.add_argument("--height", type=int, default=256, help="of the tiny pipeline's clip")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps of each frame")
    parser.add_argument("--repeats", type=int, default=5, help="clearances and checks timed")
    parser.add_argument("--quick", action="store_true", help="0.5 s of 64x64, 2 steps (CI)")
    args = parser.parse_args()
    if args.quick:
        args.duration_ms, args.width, args.height, args.steps, args.repeats = 500, 64, 64, 2, 2
    import torch

    report: dict[str, Any] = {"bench": "generation", "cpus": os.cpu_count(), "targets": TARGETS}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            generation_worker=False,  # this process times each part itself
            password_hash_time_cost=1,
            password_hash_memory_kib=8192,
            allowed_hosts=["testserver"],
        )
        with TestClient(create_app(settings)) as client:
            holder = sign_up(client)
            granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
            torch.set_num_threads(settings.generator_threads)
            tiny = load_configured_pipeline(settings)
            report["generator_threads"] = settings.generator_threads
            clip = Clip(args.duration_ms, args.width, args.height, args.steps)
            report["tiny_cpu"] = measure(
                client, pipeline=on_cpu(tiny), clip=clip, repeats=args.repeats
            )
            report["full_size_cuda"] = None
            if torch.cuda.is_available():
                full = full_size_pipeline(tiny, device="cuda")
                clip = Clip(args.duration_ms, 512, 512, args.steps)
                report["full_size_cuda"] = measure(
                    client, pipeline=full, clip=clip, repeats=args.repeats
                )
    report["targets_met"] = {
        "tiny_cpu_checks_share": report["tiny_cpu"]["checks_share"]
        <= TARGETS["tiny_cpu_checks_share"],
        "full_size_cuda_checks_share": None
        if report["full_size_cuda"] is None
        else report["full_size_cuda"]["checks_share"] <= TARGETS["full_size_cuda_checks_share"],
    }
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
