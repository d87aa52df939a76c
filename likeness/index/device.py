"""Where exact search runs: NumPy on the CPU, or torch on a CUDA GPU (or its CPU, for tests).

The operator may name a device; by default a GPU is used when torch is installed and sees
one, else NumPy's BLAS. torch is imported only here and only when it is asked about, so the
API and the CLI load without it. A device that cannot work is refused when the index is
built, with a message naming what to use instead, not on the first search.
"""

import importlib.util

from likeness.index.exact import NumpyScorer, Scorer, TorchScorer
from likeness.index.types import FaceIndexError


def resolve_device(device: str | None) -> str:
    """``device`` checked, or the default: "cuda" when torch sees a GPU, else "numpy"."""
    if device is None:
        if importlib.util.find_spec("torch") is None:
            return "numpy"
        import torch

        return "cuda" if torch.cuda.is_available() else "numpy"
    if device == "numpy":
        return device
    if importlib.util.find_spec("torch") is None:
        raise FaceIndexError(f"device {device!r} needs torch, which is not installed; use 'numpy'")
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise FaceIndexError(f"unknown device {device!r}; use 'numpy', 'cpu' or 'cuda'") from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise FaceIndexError(f"device {device!r} asked for but torch sees no CUDA GPU")
    if parsed.type not in ("cpu", "cuda"):
        raise FaceIndexError(f"device {device!r} is not supported; use 'numpy', 'cpu' or 'cuda'")
    return device


def scorer_for(device: str) -> Scorer:
    """The scorer of a device :func:`resolve_device` accepted."""
    return NumpyScorer() if device == "numpy" else TorchScorer(device=device)
