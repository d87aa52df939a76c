"""The text catalogue stays current with the registry: what is registered, changed or deleted -
through this process, another app on the database, or a live `clearhouse serve` - is what the
next match sees. On SQLite and PostgreSQL."""

import sqlite3
import uuid

import httpx
import numpy as np
import pytest
from factories import User, sign_up
from sqlmodel import Session, select

from rights.matching.encoder import SentenceEncoder
from rights.matching.models import AssetTextEmbedding
from rights.matching.runtime import MatchingRuntime
from rights.matching.store import text_key
from rights.matching.types import CatalogueAsset, MatchKind, semantic_texts

COMET = {
    "kind": "character",
    "handle": "captain_comet",
    "name": "Captain Comet",
    "aliases": ["The Comet Captain"],
    "description": "A square-jawed 1950s space hero in a silver flight suit with a red scarf and "
    "a glass fishbowl helmet, who flies with a chrome rocket pack and a finned ray gun.",
    "keywords": ["retro space hero", "rocket pack", "fishbowl helmet", "ray gun", "red scarf"],
    "example_prompts": ["a retro spaceman with a bubble helmet and a jetpack saving a moon base"],
}
DESCRIBED = (
    "a fifties rocket hero in a silver suit and fishbowl helmet, red scarf flying, firing a "
    "finned ray gun from his chrome rocket pack"
)


class CountingEncoder(SentenceEncoder):
    """The real model, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().encode(texts)


def register(client: httpx.Client, user: User, body: dict = COMET) -> dict:
    response = client.post("/v1/assets", headers=user.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def matched(runtime: MatchingRuntime, engine, prompt: str) -> dict[str, MatchKind]:
    with Session(engine) as session:
        return {str(m.asset_id): m.kind for m in runtime.match(session, prompt)}


def test_a_registered_asset_is_found_by_name_and_by_description(client, holder, engine):
    asset = register(client, holder)
    runtime: MatchingRuntime = client.app.state.matching
    assert matched(runtime, engine, "C@pt4in C0met over the moon") == {asset["id"]: "name"}
    assert matched(runtime, engine, DESCRIBED) == {asset["id"]: "description"}
    assert matched(runtime, engine, "a cat asleep on a windowsill") == {}


def test_changes_and_deletions_are_seen_by_the_next_match(client, holder, engine):
    asset = register(client, holder)
    runtime: MatchingRuntime = client.app.state.matching
    assert asset["id"] in matched(runtime, engine, "Captain Comet waves")

    renamed = client.patch(
        f"/v1/assets/{asset['id']}",
        headers=holder.headers,
        json={"name": "Major Meteor", "aliases": [], "handle": "major_meteor"},
    )
    assert renamed.status_code == 200, renamed.text
    assert matched(runtime, engine, "Captain Comet waves") == {}
    assert matched(runtime, engine, "Major Meteor waves") == {asset["id"]: "name"}

    redescribed = client.patch(
        f"/v1/assets/{asset['id']}",
        headers=holder.headers,
        json={
            "description": "A grumpy lighthouse keeper who knits sweaters for seals.",
            "keywords": ["lighthouse keeper", "knitting", "seals"],
            "example_prompts": [],
        },
    )
    assert redescribed.status_code == 200, redescribed.text
    assert matched(runtime, engine, DESCRIBED) == {}

    assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
    assert matched(runtime, engine, "Major Meteor waves") == {}


def test_another_app_on_the_database_sees_the_changes(client, holder, engine, settings):
    """Two apps on one database stand for two API processes, each with its own catalogue."""
    other = MatchingRuntime()
    assert matched(other, engine, "Captain Comet waves") == {}
    asset = register(client, holder)
    assert matched(other, engine, "Captain Comet waves") == {asset["id"]: "name"}
    client.patch(
        f"/v1/assets/{asset['id']}",
        headers=holder.headers,
        json={"name": "Nova", "aliases": [], "handle": "nova"},
    )
    assert matched(other, engine, "Captain Comet waves") == {}
    client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers)
    assert matched(other, engine, "Nova waves") == {}


def test_changes_made_by_a_live_server_process_reach_this_process(served, engine):
    runtime = MatchingRuntime()
    with httpx.Client(base_url=served, timeout=60) as remote:
        owner = sign_up(remote)
        asset = register(remote, owner)
        assert matched(runtime, engine, DESCRIBED) == {asset["id"]: "description"}
        remote.patch(
            f"/v1/assets/{asset['id']}", headers=owner.headers, json={"handle": "comet_two"}
        )
        assert matched(runtime, engine, "@comet_two is here") == {asset["id"]: "handle"}
        assert remote.delete(f"/v1/assets/{asset['id']}", headers=owner.headers).is_success
        assert matched(runtime, engine, DESCRIBED) == {}


def test_registered_texts_are_embedded_once_and_stored_with_the_asset(client, holder, engine):
    asset = register(client, holder)
    texts = semantic_texts(
        description=COMET["description"],
        example_prompts=COMET["example_prompts"],
        keywords=COMET["keywords"],
    )
    with Session(engine) as session:
        rows = session.exec(
            select(AssetTextEmbedding)
            .where(AssetTextEmbedding.asset_id == uuid.UUID(asset["id"]))
            .order_by(AssetTextEmbedding.position)
        ).all()
    assert [row.text_sha256 for row in rows] == [text_key(text) for text in texts]
    assert all(len(row.vector) == 384 * 4 for row in rows)

    encoder = CountingEncoder()
    fresh = MatchingRuntime(encoder=encoder)
    assert matched(fresh, engine, DESCRIBED) == {asset["id"]: "description"}
    assert encoder.embedded == [DESCRIBED]  # the catalogue came from the stored embeddings


def test_an_asset_without_stored_embeddings_is_embedded_when_loaded(client, holder, engine):
    asset = register(client, holder)
    with Session(engine) as session:  # as for an asset registered before the text check
        for row in session.exec(select(AssetTextEmbedding)).all():
            session.delete(row)
        session.commit()
    encoder = CountingEncoder()
    assert matched(MatchingRuntime(encoder=encoder), engine, DESCRIBED) == {
        asset["id"]: "description"
    }
    assert len(encoder.embedded) == 1 + 3  # the prompt, and the asset's three texts


def test_a_change_of_one_text_keeps_the_stored_embeddings_of_the_others(client, holder, engine):
    asset = register(client, holder)
    runtime: MatchingRuntime = client.app.state.matching
    encoder = CountingEncoder()
    runtime.encoder = encoder
    changed = client.patch(
        f"/v1/assets/{asset['id']}",
        headers=holder.headers,
        json={"example_prompts": ["a pulp-magazine astronaut with a red scarf"]},
    )
    assert changed.status_code == 200, changed.text
    assert encoder.embedded == ["a pulp-magazine astronaut with a red scarf"]
    with Session(engine) as session:
        assert len(session.exec(select(AssetTextEmbedding)).all()) == 3


@pytest.mark.parametrize("missing", ["description", "keywords"])
def test_an_asset_with_no_texts_is_still_found_by_name(client, holder, engine, missing):
    body = {**COMET, missing: [] if missing == "keywords" else "", "example_prompts": []}
    asset = register(client, holder, body)
    runtime: MatchingRuntime = client.app.state.matching
    assert matched(runtime, engine, "captain comet!") == {asset["id"]: "name"}


def test_a_catalogue_ahead_of_the_database_is_loaded_anew(client, holder, engine):
    """After a restore from an older backup the database's count is behind this process's:
    what the process holds beyond the backup must go."""
    asset = register(client, holder)
    runtime: MatchingRuntime = client.app.state.matching
    assert matched(runtime, engine, "Captain Comet waves") == {asset["id"]: "name"}
    phantom = CatalogueAsset(id=uuid.uuid4(), handle="phantom", name="Phantom Pete")
    runtime.catalogue.put(phantom, np.zeros((0, 384), dtype=np.float32))
    runtime.generation += 10  # as if it had loaded changes the restored database never saw
    # A restore replaces the database under every connection: the change listener's breaks,
    # and it marks every catalogue stale when it reconnects (clearhouse.changes).
    runtime.freshness.heard()
    assert matched(runtime, engine, "Phantom Pete and Captain Comet") == {asset["id"]: "name"}


class WriterProbingEncoder(SentenceEncoder):
    """Notes, each time it embeds, whether another writer could start (SQLite: whether a write
    transaction, which holds the whole database, is open meanwhile)."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database
        self.write_lock_free: list[bool] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        probe = sqlite3.connect(self.database, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            self.write_lock_free.append(True)
        except sqlite3.OperationalError:
            self.write_lock_free.append(False)
        finally:
            probe.close()
        return super().encode(texts)


def test_texts_are_embedded_before_the_write_transaction_begins(client, holder, settings):
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("the probe takes SQLite's database-wide write lock")
    runtime: MatchingRuntime = client.app.state.matching
    runtime.encoder = probe = WriterProbingEncoder(
        settings.resolved_database_url.removeprefix("sqlite:///")
    )
    asset = register(client, holder)
    changed = client.patch(
        f"/v1/assets/{asset['id']}",
        headers=holder.headers,
        json={"description": "A retired space hero who now grows moon cabbages."},
    )
    assert changed.status_code == 200, changed.text
    assert probe.write_lock_free == [True, True]  # the registration's, then the change's
