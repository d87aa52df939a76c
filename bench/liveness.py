"""Liveness margins: parallax of real head turns against warped stills; prints one JSON line.

    .venv/bin/python bench/liveness.py

Real turns: synthetic heads (tests/faces.py: 20 face shapes, through a pinhole camera, half a
pixel of landmark noise) turned by known angles. Warped stills: each photo in
../shared/data/faces sheared sideways, squeezed vertically and tilted in perspective over a
grid of strengths, run through the real dlib backend; only the warps the pose estimate reads
as a turn count (the others fail the challenge anyway). For each, the parallax along the
turn's direction divided by the sine of the angle read, the quantity
likeness.liveness.MIN_PARALLAX_PER_SINE bounds; and how well one homography of the frontal
frame reproduces the warped one (likeness.flat_warp), which MAX_PLANE_SIMILARITY bounds,
beside the same for pairs of different photos (not warps of each other).
"""

import json
import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on the path; the project and the test helpers
# (synthetic heads, the warps) are what this needs.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from faces import (
    FACES_DIR,
    REAL_TURNS,
    WARPS,
    crop_to_face,
    plane_warp,
    synthetic_landmarks,
    synthetic_rigid_landmarks,
    warp_photo,
)

from likeness.backends.base import LandmarkLayout
from likeness.flat_warp import plane_prediction_similarity
from likeness.liveness import PARALLAX_DIRECTIONS, parallax_per_sine
from likeness.parallax import locate_rigid_landmarks, measure_parallax
from likeness.pose import classify_head_pose, estimate_head_pose


def real_turns() -> dict[str, float | int]:
    ratios: dict[str, list[float]] = {}
    for seed in range(20):
        frontal5 = synthetic_landmarks(layout=LandmarkLayout.DLIB_5, yaw=0, pitch=0, seed=seed)
        reference = estimate_head_pose(frontal5, layout=LandmarkLayout.DLIB_5)
        frontal = synthetic_rigid_landmarks(yaw=0, pitch=0, seed=seed)
        for yaw, pitch in REAL_TURNS:
            turned5 = synthetic_landmarks(
                layout=LandmarkLayout.DLIB_5, yaw=yaw, pitch=pitch, seed=seed
            )
            pose = estimate_head_pose(turned5, layout=LandmarkLayout.DLIB_5).relative_to(reference)
            pose_class = classify_head_pose(pose)
            if pose_class not in PARALLAX_DIRECTIONS:
                continue
            turned = synthetic_rigid_landmarks(yaw=yaw, pitch=pitch, seed=seed)
            parallax = measure_parallax(frontal, turned)
            ratios.setdefault(pose_class.value, []).append(
                parallax_per_sine(parallax, pose=pose, pose_class=pose_class)
            )
    every = [r for values in ratios.values() for r in values]
    return {
        "frames": len(every),
        "min": round(min(every), 4),
        **{f"min_{name}": round(min(values), 4) for name, values in ratios.items()},
    }


def warped_stills() -> dict[str, float | int]:
    from clearhouse.media import decode_image
    from likeness.backends.dlib_backend import DlibFaceBackend

    backend = DlibFaceBackend()
    ratios: dict[str, list[float]] = {}
    similarities: list[float] = []
    frontals = []
    tried = 0
    for path in sorted(FACES_DIR.glob("*.jpg")):
        rgb = decode_image(path.read_bytes()).rgb
        photo = crop_to_face(rgb, backend.detect_and_embed([rgb])[0][0].box)
        (face,) = backend.detect_and_embed([photo])[0]
        reference = estimate_head_pose(face.landmarks, layout=face.landmark_layout)
        frontal = locate_rigid_landmarks(photo, face.box)
        frontals.append((photo, frontal))
        centre = tuple(face.landmarks.mean(axis=0))
        for warp in WARPS:
            tried += 1
            warped = warp_photo(photo, plane_warp(centre, **warp))
            found = backend.detect_and_embed([warped])[0]
            if len(found) != 1:
                continue
            pose = estimate_head_pose(found[0].landmarks, layout=LandmarkLayout.DLIB_5)
            pose = pose.relative_to(reference)
            pose_class = classify_head_pose(pose)
            if pose_class not in PARALLAX_DIRECTIONS:
                continue
            turned = locate_rigid_landmarks(warped, found[0].box)
            parallax = measure_parallax(frontal, turned)
            similarities.append(plane_prediction_similarity(photo, frontal, warped, turned))
            ratios.setdefault(pose_class.value, []).append(
                parallax_per_sine(parallax, pose=pose, pose_class=pose_class)
            )
    every = [r for values in ratios.values() for r in values]
    return {
        "warps_tried": tried,
        "read_as_turns": len(every),
        "max": round(max(every), 4),
        **{f"max_{name}": round(max(values), 4) for name, values in ratios.items()},
        "plane_similarity_min": round(min(similarities), 4),
        "plane_similarity_other_photos_max": round(
            max(
                plane_prediction_similarity(a[0], a[1], b[0], b[1])
                for a in frontals
                for b in frontals
                if a is not b
            ),
            4,
        ),
    }


def main() -> None:
    print(json.dumps({"real_turns": real_turns(), "warped_stills": warped_stills()}))


if __name__ == "__main__":
    main()
