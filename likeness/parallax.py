"""Does a face turn like a head or like a flat picture? Plane-plus-parallax on 51 landmarks.

When a real head turns, points that stand out of the face (the nose above all) move against
points that lie back (the eye corners, the ends of the brows) by an amount proportional to
how far they stand out: parallax. Every point of a photo that is sheared, squeezed or tilted
in perspective moves by one plane transform (a homography), however the warp was chosen.

So the landmarks of a turned frame are fitted as a homography of the frontal frame's
landmarks plus one parallax vector scaled by each landmark's depth off the face's plane:
``turned_i = H(frontal_i) + depth_i * v``. ``v`` (in face sizes) is what a turn must show
and a warped still cannot; the liveness check compares it with the turn the frame claims.

Five points are not enough for this: dlib's five are four eye corners on one line and the
base of the nose, so a plane transform moves the nose wherever a turn would. dlib's 68-point
predictor (shipped in face-recognition-models beside the 5-point one) gives 51 points on the
brows, nose, eyes and lips; the 17 jaw-line points are left out, since the jaw's outline is
a silhouette that slides round the head as it turns rather than a fixed point on it.
"""

import threading
from functools import cache
from typing import Any

import numpy as np

#: Where the 51 points sit in dlib's 68-point layout (0-16 are the jaw line).
RIGID_LANDMARKS = slice(17, 68)

# A canonical face for dlib's landmarks 17-67, in mm: x toward the subject's left, y up, z
# toward the camera, relative to the inner eye corners (as pose.CANONICAL_FACE_POINTS).
# x and y: the mean of dlib's 68 landmarks on the four frontal photos in
# ../shared/data/faces, levelled, scaled to eye centres 62 mm apart and made symmetric.
# z: adult anthropometric averages (nose tip 32 mm ahead of the inner eye corners, base of
# the nose 17, outer eye corners 13 behind, lips 2-14 ahead, the ends of the brows 20
# behind). Only the depth off the best-fitting plane matters below.
DENSE_FACE_POINTS = np.array(
    [
        [-57.0, 6.0, -20.0],  # brows, image left to right (17-26)
        [-49.0, 16.0, -8.0],
        [-36.0, 20.0, 0.0],
        [-23.0, 20.0, 6.0],
        [-10.0, 16.0, 9.0],
        [10.0, 16.0, 9.0],
        [23.0, 20.0, 6.0],
        [36.0, 20.0, 0.0],
        [49.0, 16.0, -8.0],
        [57.0, 6.0, -20.0],
        [0.0, 3.0, 10.0],  # nose bridge, top to tip (27-30)
        [0.0, -10.0, 16.0],
        [0.0, -22.0, 23.0],
        [0.0, -35.0, 32.0],
        [-17.0, -43.0, 12.0],  # nostrils and the base of the nose (31-35)
        [-9.0, -45.0, 16.0],
        [0.0, -48.0, 17.0],
        [9.0, -45.0, 16.0],
        [17.0, -43.0, 12.0],
        [-43.0, -1.0, -13.0],  # subject's right eye, outer corner first (36-41)
        [-35.0, 4.0, 2.0],
        [-27.0, 4.0, 4.0],
        [-19.0, -1.0, 0.0],
        [-27.0, -2.0, 4.0],
        [-35.0, -3.0, 2.0],
        [19.0, -1.0, 0.0],  # subject's left eye, inner corner first (42-47)
        [27.0, 4.0, 4.0],
        [35.0, 4.0, 2.0],
        [43.0, -1.0, -13.0],
        [35.0, -3.0, 2.0],
        [27.0, -2.0, 4.0],
        [-32.0, -69.0, 2.0],  # outer lips (48-59)
        [-22.0, -63.0, 8.0],
        [-9.0, -60.0, 12.0],
        [0.0, -62.0, 14.0],
        [9.0, -60.0, 12.0],
        [22.0, -63.0, 8.0],
        [32.0, -69.0, 2.0],
        [22.0, -81.0, 8.0],
        [10.0, -87.0, 11.0],
        [0.0, -88.0, 12.0],
        [-10.0, -87.0, 11.0],
        [-22.0, -81.0, 8.0],
        [-28.0, -69.0, 3.0],  # inner lips (60-67)
        [-9.0, -66.0, 11.0],
        [0.0, -67.0, 12.0],
        [9.0, -66.0, 11.0],
        [28.0, -69.0, 3.0],
        [10.0, -77.0, 11.0],
        [0.0, -79.0, 12.0],
        [-10.0, -77.0, 11.0],
    ]
)


def _depth_off_plane(model: np.ndarray) -> np.ndarray:
    """Each point's depth off the plane that best fits the model's depths, RMS scaled to 1.

    A homography already absorbs any part of a turn that is linear in x and y; only what
    stands out of that plane is parallax.
    """
    design = np.c_[model[:, :2], np.ones(len(model))]
    coefficients = np.linalg.lstsq(design, model[:, 2], rcond=None)[0]
    off = model[:, 2] - design @ coefficients
    return off / np.sqrt((off**2).mean())


_DEPTH = _depth_off_plane(DENSE_FACE_POINTS)
_SHAPE_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
_predictor_lock = threading.Lock()


@cache
def _shape_predictor() -> Any:
    """dlib's 68-point predictor, loaded once per process (about 100 MB, 1-2 s)."""
    import dlib

    from likeness.backends.dlib_backend import packaged_model_dir

    path = packaged_model_dir() / _SHAPE_PREDICTOR_FILE
    if not path.is_file():
        raise RuntimeError(
            f"dlib's 68-point landmark model is missing at {path}; the liveness check needs "
            "it: reinstall face-recognition-models"
        )
    return dlib.shape_predictor(str(path))


def locate_rigid_landmarks(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 51 brow, nose, eye and lip landmarks (x, y) of the face in ``box`` of ``rgb``."""
    import dlib

    with _predictor_lock:
        predictor = _shape_predictor()
    shape = predictor(np.ascontiguousarray(rgb), dlib.rectangle(*(int(v) for v in box)))
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    return points[RIGID_LANDMARKS]


def _normaliser(points: np.ndarray) -> np.ndarray:
    """The similarity moving ``points`` to their centroid, at an RMS radius of 1."""
    centre = points.mean(axis=0)
    scale = 1.0 / np.sqrt(((points - centre) ** 2).sum(axis=1).mean())
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])


def transform_points(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(x, y) ``points`` moved by a 3x3 ``homography``."""
    mapped = np.c_[points, np.ones(len(points))] @ homography.T
    return mapped[:, :2] / mapped[:, 2:3]


def _direct_linear_homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The homography mapping ``source`` onto ``target`` in the algebraic least-squares sense."""
    x, y = source.T
    u, v = target.T
    zero, one = np.zeros_like(x), np.ones_like(x)
    rows = np.concatenate(
        [
            np.stack([-x, -y, -one, zero, zero, zero, u * x, u * y, u], axis=1),
            np.stack([zero, zero, zero, -x, -y, -one, v * x, v * y, v], axis=1),
        ]
    )
    homography = np.linalg.svd(rows)[2][-1].reshape(3, 3)
    return homography / homography[2, 2]


def fit_homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The homography taking ``source`` (x, y) points nearest ``target`` (normalised DLT)."""
    to_source, to_target = _normaliser(source), _normaliser(target)
    normalised = _direct_linear_homography(
        transform_points(to_source, source), transform_points(to_target, target)
    )
    homography = np.linalg.inv(to_target) @ normalised @ to_source
    return homography / homography[2, 2]


def measure_parallax(frontal: np.ndarray, turned: np.ndarray) -> np.ndarray:
    """The parallax vector (x right, y down) between two frames' 51 rigid landmarks.

    Its unit is the turned face's size (RMS landmark distance from their centroid) per RMS
    depth off the face's plane: (0, 0) for any plane transform of the frontal frame, and
    about 0.17 x sin(angle) for a real head turned by ``angle`` (see the liveness check for
    the measurements).
    """
    frontal = np.asarray(frontal, dtype=np.float64)
    turned = np.asarray(turned, dtype=np.float64)
    if frontal.shape != (len(_DEPTH), 2) or turned.shape != frontal.shape:
        raise ValueError(f"expected two arrays of {len(_DEPTH)} (x, y) landmarks")
    source = transform_points(_normaliser(frontal), frontal)
    target = transform_points(_normaliser(turned), turned)
    start = _direct_linear_homography(source, target).ravel()[:8]
    params = np.r_[start, 0.0, 0.0]

    def residual(p: np.ndarray) -> np.ndarray:
        homography = np.append(p[:8], 1.0).reshape(3, 3)
        return (transform_points(homography, source) + np.outer(_DEPTH, p[8:]) - target).ravel()

    # Gauss-Newton on the geometric error of homography and parallax together.
    current = residual(params)
    for _ in range(20):
        jacobian = np.empty((current.size, params.size))
        for k in range(params.size):
            step = np.zeros_like(params)
            step[k] = 1e-7
            jacobian[:, k] = (residual(params + step) - current) / 1e-7
        delta = np.linalg.lstsq(jacobian, -current, rcond=None)[0]
        trial = residual(params + delta)
        gain = current @ current - trial @ trial
        if gain <= 0:
            break
        params, current = params + delta, trial
        if gain < 1e-12 * (current @ current + 1e-12):
            break
    return params[8:].copy()
