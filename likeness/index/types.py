"""The face index's shared vocabulary: templates in, matches out, and input checks.

Identifiers travel inside the index as 16-byte numpy ``V16`` values (a UUID's bytes), so a
million templates cost 32 bytes of ids each in two flat arrays instead of two Python
``UUID`` objects each.
"""

from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

UUID_DTYPE = np.dtype("V16")

FloatMatrix = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.void]


class FaceIndexError(ValueError):
    """An embedding or query the face index cannot take; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class FaceTemplate:
    """One enrolled face template, as the vault hands it to the index."""

    template_id: UUID
    likeness_id: UUID
    model_key: str
    embedding: npt.ArrayLike


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """A likeness whose best template is this close to a query face (cosine similarity)."""

    likeness_id: UUID
    template_id: UUID
    similarity: float


def uuid_array(ids: list[UUID] | tuple[UUID, ...]) -> IdArray:
    """UUIDs packed into a flat ``V16`` array (their 16 big-endian bytes each)."""
    return np.frombuffer(b"".join(identifier.bytes for identifier in ids), dtype=UUID_DTYPE)


def uuid_value(identifier: UUID) -> np.void:
    """One UUID as a ``V16`` scalar, comparable with :func:`uuid_array`'s elements."""
    return np.frombuffer(identifier.bytes, dtype=UUID_DTYPE)[0]


def unit_rows(vectors: npt.ArrayLike, *, dimension: int | None, what: str) -> FloatMatrix:
    """``vectors`` as a C-contiguous float32 matrix of unit rows, or a :class:`FaceIndexError`.

    Rows are normalised here rather than refused when their norm is not 1: cosine similarity
    does not depend on scale, and backends (dlib) emit vectors whose norm is close to but not
    exactly 1, so refusing would only push the same division onto every caller. A row that is
    zero, NaN or infinite has no direction and is refused.
    """
    matrix = np.asarray(vectors)
    if matrix.ndim == 1:
        matrix = matrix[np.newaxis, :]
    if matrix.ndim != 2:
        raise FaceIndexError(
            f"{what} must be a vector or an (n, d) matrix, not shape {matrix.shape}"
        )
    if not np.issubdtype(matrix.dtype, np.number) or np.iscomplexobj(matrix):
        raise FaceIndexError(f"{what} must hold real numbers, not {matrix.dtype}")
    if dimension is not None and matrix.shape[1] != dimension:
        raise FaceIndexError(
            f"{what} has dimension {matrix.shape[1]} but this model's templates have "
            f"dimension {dimension}; embed with the same model as the enrolled templates"
        )
    matrix = np.array(matrix, dtype=np.float32, order="C", copy=True)
    if not np.isfinite(matrix).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise FaceIndexError(f"{what} row {bad} holds NaN or infinity; re-run the embedding")
    norms = np.linalg.norm(matrix, axis=1)
    if (norms <= 1e-12).any():
        bad = int(np.flatnonzero(norms <= 1e-12)[0])
        raise FaceIndexError(f"{what} row {bad} is the zero vector; it has no direction to match")
    matrix /= norms[:, np.newaxis]
    return matrix


def present_in(candidates: IdArray, stored: IdArray) -> npt.NDArray[np.bool_]:
    """Which ``candidates`` occur in ``stored``.

    A few candidates are compared one by one (a linear scan each): ``np.isin`` would sort
    the whole stored array, which at a million ids costs far more than a few scans.
    """
    if candidates.shape[0] <= 16:
        return np.array([bool((stored == value).any()) for value in candidates], dtype=bool)
    return np.isin(candidates, stored)


def best_per_likeness(
    *,
    similarities: npt.NDArray[np.float32],
    likeness_ids: IdArray,
    template_ids: IdArray,
    k: int,
) -> list[FaceMatch]:
    """The first ``k`` distinct likenesses of candidates already sorted best first."""
    seen: set[bytes] = set()
    matches: list[FaceMatch] = []
    for similarity, likeness, template in zip(
        similarities.tolist(), likeness_ids, template_ids, strict=True
    ):
        key = likeness.tobytes()
        if key in seen:
            continue
        seen.add(key)
        matches.append(
            FaceMatch(
                likeness_id=UUID(bytes=key),
                template_id=UUID(bytes=template.tobytes()),
                similarity=float(similarity),
            )
        )
        if len(matches) == k:
            break
    return matches
