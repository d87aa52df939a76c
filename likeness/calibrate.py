"""Measure a face backend's match threshold on a folder of labelled photos.

    python -m likeness.calibrate [DIR] [--threshold T] [--insightface-model-dir MODELS]

Photos are grouped into people by the file name's prefix before the first digit or
underscore (``obama.jpg``, ``obama2.jpg`` and ``obama_partial_face.jpg`` are one person).
Each photo's largest face is embedded; the script prints one JSON line with every pairwise
cosine similarity, the false match rate (different people at or above the threshold) and
false non-match rate (same person below it) at the chosen threshold, and a small sweep.
"""

import argparse
import itertools
import json
import re
import sys
from pathlib import Path
from typing import TypedDict

import numpy as np

from likeness.backends import load_backend
from likeness.backends.base import FaceBackend
from likeness.media import decode_image

# The shared test photos sit beside the repository: ../shared/data/faces.
DEFAULT_PHOTO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
SWEEP = (0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96)


class Pair(TypedDict):
    a: str
    b: str
    same_person: bool
    similarity: float


def person_of(path: Path) -> str:
    """The person a photo shows, from its file name: the part before a digit or underscore."""
    match = re.match(r"[^\d_]+", path.stem)
    return (match.group(0) if match else path.stem).lower()


def error_rates(pairs: list[Pair], *, threshold: float) -> dict[str, float | int | None]:
    """False match and false non-match rates of labelled pairs at ``threshold``."""
    genuine = [p["similarity"] for p in pairs if p["same_person"]]
    impostor = [p["similarity"] for p in pairs if not p["same_person"]]
    false_non_matches = sum(1 for s in genuine if s < threshold)
    false_matches = sum(1 for s in impostor if s >= threshold)
    return {
        "threshold": threshold,
        "false_match_rate": false_matches / len(impostor) if impostor else None,
        "false_non_match_rate": false_non_matches / len(genuine) if genuine else None,
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
    }


def calibrate(
    photo_dir: Path, *, backend: FaceBackend, threshold: float | None = None
) -> dict[str, object]:
    """Embed every photo in ``photo_dir`` and measure the backend's errors."""
    threshold = backend.default_match_threshold if threshold is None else threshold
    photos = sorted(p for p in photo_dir.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    embeddings: dict[str, np.ndarray] = {}
    without_face: list[str] = []
    for path in photos:
        frame = decode_image(path.read_bytes())
        faces = backend.detect_and_embed([frame.rgb])[0]
        if not faces:
            without_face.append(path.name)
            continue
        largest = max(faces, key=lambda face: face.width * face.height)
        embeddings[path.name] = largest.embedding
    pairs: list[Pair] = []
    for first, second in itertools.combinations(sorted(embeddings), 2):
        pairs.append(
            {
                "a": first,
                "b": second,
                "same_person": person_of(Path(first)) == person_of(Path(second)),
                "similarity": round(float(embeddings[first] @ embeddings[second]), 4),
            }
        )
    genuine = [p["similarity"] for p in pairs if p["same_person"]]
    impostor = [p["similarity"] for p in pairs if not p["same_person"]]
    return {
        "model_key": backend.model_key,
        "photo_dir": str(photo_dir),
        "photos": len(photos),
        "without_face": without_face,
        "pairs": pairs,
        "genuine_range": [min(genuine), max(genuine)] if genuine else None,
        "impostor_range": [min(impostor), max(impostor)] if impostor else None,
        "at_threshold": error_rates(pairs, threshold=threshold),
        "sweep": [error_rates(pairs, threshold=t) for t in SWEEP],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m likeness.calibrate", description=__doc__)
    parser.add_argument("photo_dir", nargs="?", type=Path, default=DEFAULT_PHOTO_DIR)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--insightface-model-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.photo_dir.is_dir():
        parser.error(f"{args.photo_dir} is not a folder of photos")
    model_dir = args.insightface_model_dir
    # A script of its own, not the API: the model runs in this process.
    backend = load_backend("dlib" if model_dir is None else "insightface", model_dir)
    report = calibrate(args.photo_dir, backend=backend, threshold=args.threshold)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
