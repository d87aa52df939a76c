"""Templates checked and packed for the index: one model's unit vectors and ids, side by side.

Every way in (one template, a batch of one model, many templates of any models, a rebuild)
goes through :func:`pack_batch`, so the checks a caller can fail (no model key, mixed shapes,
counts that disagree, a template id twice) are made once, before the index's write lock is
taken, and say what to fix.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

from likeness.index.types import (
    FaceIndexError,
    FaceTemplate,
    FloatMatrix,
    IdArray,
    unit_rows,
    uuid_array,
)


@dataclass(frozen=True, slots=True)
class TemplateBatch:
    """Templates of one model: row ``i`` of ``vectors`` belongs to the ``i``-th ids."""

    model_key: str
    vectors: FloatMatrix
    template_ids: IdArray
    likeness_ids: IdArray

    @property
    def count(self) -> int:
        return self.vectors.shape[0]


@dataclass(frozen=True, slots=True)
class ModelTemplates:
    """One model's templates as the caller gave them, before :func:`pack_batch` checks them."""

    template_ids: list[UUID]
    likeness_ids: list[UUID]
    embeddings: list[npt.ArrayLike]


def pack_batch(
    *,
    model_key: str,
    template_ids: Sequence[UUID],
    likeness_ids: Sequence[UUID],
    embeddings: npt.ArrayLike | list[npt.ArrayLike],
) -> TemplateBatch:
    """The checked batch, or a :class:`FaceIndexError` that says what to fix."""
    if not isinstance(model_key, str) or not model_key:
        raise FaceIndexError("model_key must name the embedding model, e.g. 'dlib/resnet-v1'")
    if isinstance(embeddings, list):
        shapes = {np.shape(row) for row in embeddings}
        if len(shapes) > 1:
            raise FaceIndexError(
                f"embeddings of model {model_key!r} have different shapes {sorted(shapes)}"
            )
        embeddings = (
            np.stack([np.asarray(row) for row in embeddings]) if embeddings else np.empty((0, 0))
        )
    vectors = unit_rows(embeddings, dimension=None, what=f"embeddings of model {model_key!r}")
    if not (vectors.shape[0] == len(template_ids) == len(likeness_ids)):
        raise FaceIndexError(
            f"{vectors.shape[0]} embeddings for {len(template_ids)} template ids and "
            f"{len(likeness_ids)} likeness ids; give one of each per template"
        )
    template_array = uuid_array(tuple(template_ids))
    if np.unique(template_array).shape[0] != template_array.shape[0]:
        raise FaceIndexError("a template id appears twice in one add; each must be unique")
    return TemplateBatch(
        model_key=model_key,
        vectors=vectors,
        template_ids=template_array,
        likeness_ids=uuid_array(tuple(likeness_ids)),
    )


def pack_by_model(templates: Iterable[FaceTemplate]) -> list[TemplateBatch]:
    """One checked batch per model key, in the order the models first appear."""
    groups: dict[str, ModelTemplates] = defaultdict(lambda: ModelTemplates([], [], []))
    for template in templates:
        group = groups[template.model_key]
        group.template_ids.append(template.template_id)
        group.likeness_ids.append(template.likeness_id)
        group.embeddings.append(template.embedding)
    return [
        pack_batch(
            model_key=model_key,
            template_ids=group.template_ids,
            likeness_ids=group.likeness_ids,
            embeddings=group.embeddings,
        )
        for model_key, group in groups.items()
    ]
