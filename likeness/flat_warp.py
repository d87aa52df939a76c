"""How well does one plane transform of the frontal frame predict a turned frame's face?

A sheared, squeezed or tilted copy of a photo is, pixel for pixel, a homography of that
photo: warp the frontal frame by the best homography and it reproduces the warped still
almost exactly. A real head that turned cannot be reproduced so: the nose moves against the
cheeks and hides part of one, the far side of the face narrows, the ear comes into view.

This complements the landmark parallax of likeness.parallax, which dlib's 68-point model
can be fooled into (pulled toward the faces it was trained on, it reads a little parallax
into a strongly warped face); the pixels are not pulled toward anything.
"""

import numpy as np
from PIL import Image, ImageFilter

from likeness.parallax import fit_homography, transform_points

_GRID = 48  # samples per side over the face, after smoothing: enough for the face's shape
_ITERATIONS = 30


def _smoothed_gray(rgb: np.ndarray, *, radius: float) -> np.ndarray:
    """Grey levels, blurred so that pixel noise and compression do not decide the match."""
    image = Image.fromarray(rgb).convert("L").filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, dtype=np.float64)


def _sample(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``gray`` at (x, y) ``points``, clamped to the image."""
    height, width = gray.shape
    xs = np.clip(points[:, 0], 0, width - 1.001)
    ys = np.clip(points[:, 1], 0, height - 1.001)
    x0, y0 = xs.astype(int), ys.astype(int)
    fx, fy = xs - x0, ys - y0
    return (
        gray[y0, x0] * (1 - fx) * (1 - fy)
        + gray[y0, x0 + 1] * fx * (1 - fy)
        + gray[y0 + 1, x0] * (1 - fx) * fy
        + gray[y0 + 1, x0 + 1] * fx * fy
    )


def _standardised(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean()
    return centred / max(float(np.sqrt((centred**2).mean())), 1e-9)


def plane_prediction_similarity(
    frontal_rgb: np.ndarray,
    frontal_landmarks: np.ndarray,
    turned_rgb: np.ndarray,
    turned_landmarks: np.ndarray,
) -> float:
    """Correlation (-1 to 1) of the turned face with the best homography of the frontal one.

    The face is the box round the turned frame's brow, eye, nose and lip landmarks; the
    homography starts from the landmarks' and is refined on the pixels (Gauss-Newton on the
    normalised correlation), so landmark errors do not lower the match of a warped still.
    """
    frontal_landmarks = np.asarray(frontal_landmarks, dtype=np.float64)
    turned_landmarks = np.asarray(turned_landmarks, dtype=np.float64)
    low, high = turned_landmarks.min(axis=0), turned_landmarks.max(axis=0)
    size = float(np.max(high - low))
    steps = np.linspace(0.0, 1.0, _GRID)
    grid = np.stack(np.meshgrid(steps, steps), axis=-1).reshape(-1, 2)
    # Work in coordinates where the box is the unit square and the frontal face about as big,
    # so that all eight homography entries move the samples on a like scale.
    box = low + grid * (high - low)
    to_unit = np.array([[1 / size, 0, -low[0] / size], [0, 1 / size, -low[1] / size], [0, 0, 1]])
    frontal_low = frontal_landmarks.min(axis=0)
    frontal_size = float(np.max(frontal_landmarks.max(axis=0) - frontal_low))
    from_unit = np.array(
        [[frontal_size, 0, frontal_low[0]], [0, frontal_size, frontal_low[1]], [0, 0, 1]]
    )
    turned_to_frontal = fit_homography(turned_landmarks, frontal_landmarks)
    start = np.linalg.inv(from_unit) @ turned_to_frontal @ np.linalg.inv(to_unit)
    params = (start / start[2, 2]).ravel()[:8]
    unit_box = transform_points(to_unit, box)
    # Coarse to fine: a heavy blur first pulls in a start that the landmarks left a few
    # pixels off; the fine pass then matches the face's detail.
    for blur in (size / 15, size / 60):
        frontal_gray = _smoothed_gray(frontal_rgb, radius=max(blur, 1.0))
        turned_gray = _smoothed_gray(turned_rgb, radius=max(blur, 1.0))
        params, similarity = _refine(params, frontal_gray, turned_gray, from_unit, unit_box, box)
    return similarity


def _refine(
    params: np.ndarray,
    frontal_gray: np.ndarray,
    turned_gray: np.ndarray,
    from_unit: np.ndarray,
    unit_box: np.ndarray,
    box: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Levenberg-Marquardt on the homography's eight entries; returns them and the match."""
    target = _standardised(_sample(turned_gray, box))

    def residual(p: np.ndarray) -> np.ndarray:
        mapping = from_unit @ np.append(p, 1.0).reshape(3, 3)
        return _standardised(_sample(frontal_gray, transform_points(mapping, unit_box))) - target

    current = residual(params)
    damping = 1e-3
    for _ in range(_ITERATIONS):
        jacobian = np.empty((current.size, params.size))
        for k in range(params.size):
            step = np.zeros_like(params)
            step[k] = 1e-4
            jacobian[:, k] = (residual(params + step) - current) / 1e-4
        normal = jacobian.T @ jacobian
        delta = np.linalg.solve(
            normal + damping * np.diag(np.diag(normal) + 1e-9), -jacobian.T @ current
        )
        trial = residual(params + delta)
        if trial @ trial < current @ current:
            params, current = params + delta, trial
            damping = max(damping / 10, 1e-7)
        else:
            damping *= 10
            if damping > 1e4:
                break
    return params, float(1.0 - (current @ current) / (2 * current.size))
