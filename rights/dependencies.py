"""An asset the caller may act on (rights/authority.py: its owner, an organisation's member in
a role that may, an agent, an estate), loaded from the `asset_id` in the path, for routes of
any domain; and the embeddings of the texts a registration or a change brings.

Each variant loads the asset in the session its route then works in: FastAPI resolves a
dependency once per request, so the `SessionDep` or `ReadSessionDep` declared here is the
route's own. An asset the caller may not act on, like one that does not exist, is a 404.
"""

import uuid
from typing import Annotated

from fastapi import Depends

from clearhouse.deps import CurrentAccount, HolderAccount, ReadSessionDep, SessionDep
from clearhouse.errors import NotFound, raises
from rights import repository
from rights.authority import Action
from rights.matching.runtime import MatchingDep
from rights.matching.store import TextVectors
from rights.matching.types import semantic_texts
from rights.models import Asset
from rights.schemas import AssetCreate, AssetUpdate


@raises(NotFound)
def _owned_asset(asset_id: uuid.UUID, owner: HolderAccount, session: ReadSessionDep) -> Asset:
    return repository.get_owned_asset(
        session, account_id=owner.id, asset_id=asset_id, action=Action.view
    )


@raises(NotFound)
def _owned_asset_to_change(asset_id: uuid.UUID, owner: HolderAccount, session: SessionDep) -> Asset:
    return repository.get_owned_asset(
        session, account_id=owner.id, asset_id=asset_id, action=Action.administer
    )


@raises(NotFound)
def _managed_asset(asset_id: uuid.UUID, owner: HolderAccount, session: SessionDep) -> Asset:
    return repository.get_owned_asset(
        session, account_id=owner.id, asset_id=asset_id, action=Action.manage
    )


@raises(NotFound)
def _owned_asset_to_withdraw(
    asset_id: uuid.UUID, owner: CurrentAccount, session: SessionDep
) -> Asset:
    return repository.get_owned_asset(
        session, account_id=owner.id, asset_id=asset_id, action=Action.withdraw
    )


@raises(NotFound)
def _owned_asset_including_deleted(
    asset_id: uuid.UUID, owner: HolderAccount, session: ReadSessionDep
) -> Asset:
    return repository.get_owned_asset(
        session, account_id=owner.id, asset_id=asset_id, include_deleted=True, action=Action.view
    )


OwnedAsset = Annotated[Asset, Depends(_owned_asset)]
"""A live asset the caller may see (its owner, a member of its organisation, an agent, an
estate), for a route that only reads (`ReadSessionDep`)."""

OwnedAssetToChange = Annotated[Asset, Depends(_owned_asset_to_change)]
"""One of the caller's live assets, in the write transaction (`SessionDep`) that changes or
deletes it: its owner's, or an owner's of its organisation."""

ManagedAsset = Annotated[Asset, Depends(_managed_asset)]
"""A live asset whose policies, prices and consent the caller manages, in the write
transaction (`SessionDep`): its owner, its organisation's owners and managers, the person's
agent, a verified estate (rights/authority.py)."""

OwnedAssetIncludingDeleted = Annotated[Asset, Depends(_owned_asset_including_deleted)]
"""One of the caller's assets, deleted or not, for reading its history (`ReadSessionDep`)."""

OwnedAssetToWithdraw = Annotated[Asset, Depends(_owned_asset_to_withdraw)]
"""One of the caller's live assets, whatever the caller's role now: withdrawing consent is
always open to the owner, even one an admin made a creator (`SessionDep`)."""


def _registered_texts(body: AssetCreate, matching: MatchingDep) -> TextVectors:
    return matching.embed_texts(
        semantic_texts(
            description=body.description,
            example_prompts=body.example_prompts,
            keywords=body.keywords,
        )
    )


def _changed_texts(body: AssetUpdate, matching: MatchingDep) -> TextVectors:
    return matching.embed_texts(
        semantic_texts(
            description=body.description or "",
            example_prompts=body.example_prompts or (),
            keywords=body.keywords or (),
        )
    )


RegisteredTexts = Annotated[TextVectors, Depends(_registered_texts)]
"""The embeddings of a registration's texts, for the IP text check (rights/matching/)."""

ChangedTexts = Annotated[TextVectors, Depends(_changed_texts)]
"""The embeddings of the texts a change sets. Declare it before the route's session or
`OwnedAssetToChange`: FastAPI resolves dependencies in the order declared, and the sentence
model must run before the write transaction begins, not inside it (clearhouse/db.py)."""
