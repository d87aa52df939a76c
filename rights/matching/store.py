"""The text catalogue in the database: counting changes, storing embeddings, reading changes.

Every change to an asset's names or texts (`record_change`, called by rights/service.py in the
change's own transaction) advances the one-row counter ``text_catalogue_generation`` and stamps
the asset with the new count. The counter's row stays locked until the transaction commits, so
counts commit in order: a process holding count *n* is up to date with every asset stamped *n*
or less, and catches up by reading the assets stamped after it (`changed_since`, an indexed
range scan) when it hears of a change (clearhouse.changes), or, on SQLite, on every request
for the price of reading one row when nothing changed.

Embeddings are stored per asset, model and position, with the SHA-256 of the text they embed;
a text whose stored row does not match (changed, or stored before the model was) is embedded
again when it is loaded.
"""

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from clearhouse.changes import TEXT_CATALOGUE, announce
from rights.matching.models import AssetTextEmbedding, TextCatalogueGeneration
from rights.matching.types import CatalogueAsset
from rights.models import MATCHED_STANDINGS, Asset
from rights.protected.models import ProtectedEntry

Vector = npt.NDArray[np.float32]
_IN_CHUNK = 500


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def catalogue_asset(asset: Asset | ProtectedEntry) -> CatalogueAsset:
    if isinstance(asset, ProtectedEntry):
        return CatalogueAsset(
            id=asset.id,
            handle="",
            name=asset.name,
            aliases=tuple(asset.aliases),
            description=asset.description,
            protected_kind=asset.kind.value,
        )
    return CatalogueAsset(
        id=asset.id,
        handle=asset.handle,
        name=asset.name,
        aliases=tuple(asset.aliases),
        description=asset.description,
        keywords=tuple(asset.keywords),
        example_prompts=tuple(asset.example_prompts),
    )


# Read before every match: a Core statement built once, on the session's connection.
_CURRENT_GENERATION = select(TextCatalogueGeneration.generation)


def current_generation(session: Session) -> int:
    return session.connection().execute(_CURRENT_GENERATION).scalar_one()


def stamp_change(session: Session, item: Asset | ProtectedEntry) -> None:
    """Advance the counter and stamp ``item`` with it: every process hears of it at commit and
    reloads it (or, no longer listed, drops it) at its next refresh. Its stored embeddings stay
    as they are."""
    session.exec(
        update(TextCatalogueGeneration).values(generation=TextCatalogueGeneration.generation + 1)
    )
    announce(session, TEXT_CATALOGUE)
    item.catalogue_generation = current_generation(session)
    session.add(item)


def lock_changes(session: Session) -> None:
    """Take the counter's row lock now, for a check that must see every change committed
    before it and none while it runs (an overlap check before a registration)."""
    session.exec(select(TextCatalogueGeneration).with_for_update()).one()


@dataclass(frozen=True)
class TextVectors:
    """Embeddings of some texts by one model, by `text_key`: computed before a transaction
    begins (no model runs inside one), stored by `record_change` inside it."""

    model_key: str
    by_text: Mapping[str, Vector]


def record_change(session: Session, *, asset: Asset, vectors: TextVectors | None) -> None:
    """Stamp ``asset`` as changed and store the embeddings of its current texts.

    A text whose embedding is neither in ``vectors`` nor already stored is left for the loader
    to embed. A deleted asset keeps no embeddings (``vectors`` may then be None).
    """
    stamp_change(session, asset)
    if asset.deleted_at is not None or vectors is None:
        session.exec(delete(AssetTextEmbedding).where(col(AssetTextEmbedding.asset_id) == asset.id))
        return
    model_key = vectors.model_key
    stored = {
        row.text_sha256: np.frombuffer(row.vector, dtype=np.float32)
        for row in session.exec(
            select(AssetTextEmbedding).where(
                AssetTextEmbedding.asset_id == asset.id,
                AssetTextEmbedding.model_key == model_key,
            )
        )
    }
    session.exec(
        delete(AssetTextEmbedding).where(
            col(AssetTextEmbedding.asset_id) == asset.id,
            col(AssetTextEmbedding.model_key) == model_key,
        )
    )
    for position, text in enumerate(catalogue_asset(asset).semantic_texts()):
        key = text_key(text)
        vector = vectors.by_text.get(key, stored.get(key))
        if vector is not None:
            session.add(
                AssetTextEmbedding(
                    asset_id=asset.id,
                    model_key=model_key,
                    position=position,
                    text_sha256=key,
                    vector=np.asarray(vector, dtype=np.float32).tobytes(),
                )
            )


@dataclass(frozen=True)
class CatalogueChange:
    """An asset or protected entry as it is now: to put in the catalogue, or (deleted, or no
    longer licensable: in review, inactive, retired) to take out."""

    asset: CatalogueAsset
    listed: bool
    stored: dict[int, tuple[str, Vector]]  # position -> (text key, embedding)


def changed_since(session: Session, generation: int, *, model_key: str) -> list[CatalogueChange]:
    """Every asset and protected entry stamped after ``generation``, with the assets' stored
    embeddings for ``model_key`` (a protected entry's are computed when it is loaded)."""
    assets = session.exec(
        select(Asset)
        .where(Asset.catalogue_generation > generation)
        .order_by(Asset.catalogue_generation)
    ).all()
    entries = session.exec(
        select(ProtectedEntry)
        .where(ProtectedEntry.catalogue_generation > generation)
        .order_by(ProtectedEntry.catalogue_generation)
    ).all()
    listed = {
        asset.id: asset.deleted_at is None and asset.standing in MATCHED_STANDINGS
        for asset in assets
    }
    stored = _stored_embeddings(
        session, [asset_id for asset_id, shown in listed.items() if shown], model_key=model_key
    )
    return [
        CatalogueChange(
            asset=catalogue_asset(asset),
            listed=listed[asset.id],
            stored=stored.get(asset.id, {}),
        )
        for asset in assets
    ] + [
        CatalogueChange(
            asset=catalogue_asset(entry),
            listed=entry.listed,
            stored=_entry_embedding(entry, model_key),
        )
        for entry in entries
    ]


def _entry_embedding(entry: ProtectedEntry, model_key: str) -> dict[int, tuple[str, Vector]]:
    """A protected entry's one semantic text is its description."""
    if entry.description_embedding is None or entry.embedding_model_key != model_key:
        return {}
    vector = np.frombuffer(entry.description_embedding, dtype=np.float32)
    return {0: (text_key(entry.description.strip()), vector)}


def set_entry_embedding(entry: ProtectedEntry, vectors: TextVectors | None) -> None:
    """Keep the embedding of the entry's description from ``vectors`` (None: none known)."""
    vector = vectors.by_text.get(text_key(entry.description.strip())) if vectors else None
    entry.description_embedding = (
        None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
    )
    entry.embedding_model_key = None if vector is None else vectors.model_key


def _stored_embeddings(
    session: Session, asset_ids: list[uuid.UUID], *, model_key: str
) -> dict[uuid.UUID, dict[int, tuple[str, Vector]]]:
    found: dict[uuid.UUID, dict[int, tuple[str, Vector]]] = {}
    for chunk in _chunks(asset_ids, _IN_CHUNK):
        rows = session.exec(
            select(AssetTextEmbedding).where(
                AssetTextEmbedding.model_key == model_key,
                col(AssetTextEmbedding.asset_id).in_(chunk),
            )
        )
        for row in rows:
            found.setdefault(row.asset_id, {})[row.position] = (
                row.text_sha256,
                np.frombuffer(row.vector, dtype=np.float32),
            )
    return found


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
