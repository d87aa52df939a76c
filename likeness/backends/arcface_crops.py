"""ArcFace's input: a face cropped onto the five-point template, and the recogniser's batch.

The recogniser was trained on faces whose eyes, nose tip and mouth corners sit at fixed
places in a 112x112 crop, so each detected face is moved there by the similarity (rotation,
uniform scale, shift) that best fits its five landmarks, then resampled bilinearly as
OpenCV's ``warpAffine`` would. Done in NumPy so neither insightface nor OpenCV is needed; the
ONNX session that embeds the crops is in ``insightface_backend.py``.
"""

from collections.abc import Sequence

import numpy as np

#: The five-point template that ArcFace crops are aligned to (insightface's arcface_dst),
#: in 112x112 pixels: right eye, left eye (subject's), nose tip, right and left mouth corner.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift; no reflection) taking ``source``
    points closest to ``target`` in the least-squares sense (Umeyama, 1991)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_c, target_c = source - source_mean, target - target_mean
    covariance = target_c.T @ source_c / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (source_c**2).sum() / len(source)
    scale = float(np.trace(np.diag(singular) @ sign) / variance) if variance > 0 else 1.0
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def warp_affine(image: np.ndarray, matrix: np.ndarray, *, size: tuple[int, int]) -> np.ndarray:
    """Warp ``image`` by the 2x3 ``matrix`` (source -> output pixels) into (width, height),
    sampling bilinearly with pixel centres at integer coordinates and black outside, as
    OpenCV's ``warpAffine`` does."""
    width, height = size
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[:height, :width].astype(np.float64)
    src_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    src_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    x0, y0 = np.floor(src_x).astype(int), np.floor(src_y).astype(int)
    fx, fy = (src_x - x0)[..., None], (src_y - y0)[..., None]
    padded = np.zeros((image.shape[0] + 2, image.shape[1] + 2, image.shape[2]), np.float64)
    padded[1:-1, 1:-1] = image
    # Shift into the padded frame and clamp: anything beyond the border reads the black pad.
    x0p = np.clip(x0 + 1, 0, padded.shape[1] - 1)
    x1p = np.clip(x0 + 2, 0, padded.shape[1] - 1)
    y0p = np.clip(y0 + 1, 0, padded.shape[0] - 1)
    y1p = np.clip(y0 + 2, 0, padded.shape[0] - 1)
    top = padded[y0p, x0p] * (1 - fx) + padded[y0p, x1p] * fx
    bottom = padded[y1p, x0p] * (1 - fx) + padded[y1p, x1p] * fx
    warped = top * (1 - fy) + bottom * fy
    return np.clip(np.rint(warped), 0, 255).astype(np.uint8)


def align_face(image: np.ndarray, landmarks: np.ndarray, *, size: int = 112) -> np.ndarray:
    """The ``size`` x ``size`` crop with the five landmarks on ArcFace's template."""
    template = ARCFACE_TEMPLATE_112 * (size / 112.0)
    matrix = similarity_transform(landmarks, template)
    return warp_affine(image, matrix, size=(size, size))


def recogniser_blob(
    crops: Sequence[np.ndarray], *, mean: float, std: float, pad_to: int | None
) -> np.ndarray:
    """Aligned RGB crops as the recogniser's (N, 3, height, width) float32 input.

    ``pad_to``: a model exported with a fixed batch size is fed exactly that many rows, the
    missing ones zero; the caller drops their embeddings.
    """
    chunk = np.stack(crops).astype(np.float32)
    blob = ((chunk - mean) / std).transpose(0, 3, 1, 2)
    if pad_to is not None and len(chunk) < pad_to:
        padding = np.zeros((pad_to - len(chunk), *blob.shape[1:]))
        blob = np.concatenate([blob, padding.astype(np.float32)])
    return blob
