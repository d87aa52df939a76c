"""Queries of clearance scoped by who asks: a requester finds only their own clearances;
moderators list the outputs the output check blocked."""

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.errors import NotFound
from clearhouse.ownership import owned
from clearhouse.pagination import PageParams, paginate
from generator.models import GenerationJob
from licensing.models import Clearance, ClearedAsset, FoundIn, OutputCheck, OutputVerdict
from rights.models import Asset


def requesters_clearance(
    session: Session, *, requester_id: uuid.UUID, clearance_id: uuid.UUID
) -> Clearance:
    """The clearance, if ``requester_id`` asked for it; anyone else's is not found (404)."""
    return owned(
        session,
        Clearance,
        clearance_id,
        owner_column=Clearance.requester_id,
        owner_id=requester_id,
        not_found=NotFound("No clearance with this id among yours."),
    )


@dataclass(frozen=True)
class FlaggedOutput:
    """An output check that blocked a release, for moderators: whose request it was, its
    generation (None when a third-party generator asked for the check) and what it found
    that the clearance did not cover, each with the asset it is."""

    check: OutputCheck
    clearance: Clearance
    requester: Account
    generation: GenerationJob | None
    found: list[tuple[ClearedAsset, Asset]]


def flagged_outputs(session: Session, *, params: PageParams) -> tuple[list[FlaggedOutput], int]:
    """Every blocked output check, newest first, one page of them and how many there are.

    Staff only: the rows carry the requester's identity and each face's score."""
    query = (
        select(OutputCheck, Clearance, Account, GenerationJob)
        .join(Clearance, Clearance.id == OutputCheck.clearance_id)
        .join(Account, Account.id == Clearance.requester_id)
        .outerjoin(GenerationJob, GenerationJob.clearance_id == Clearance.id)
        .where(OutputCheck.verdict == OutputVerdict.release_blocked)
        .order_by(col(OutputCheck.created_at).desc(), col(OutputCheck.id).desc())
    )
    rows, total = paginate(session, query, params)
    found: dict[uuid.UUID, list[tuple[ClearedAsset, Asset]]] = defaultdict(list)
    if rows:
        for cleared, asset in session.exec(
            select(ClearedAsset, Asset)
            .join(Asset, Asset.id == ClearedAsset.asset_id)
            .where(
                col(ClearedAsset.output_check_id).in_([check.id for check, *_ in rows]),
                ClearedAsset.found_in == FoundIn.output,
            )
            .order_by(ClearedAsset.created_at, ClearedAsset.id)
        ).all():
            found[cleared.output_check_id].append((cleared, asset))
    return [
        FlaggedOutput(
            check=check,
            clearance=clearance,
            requester=requester,
            generation=generation,
            found=found[check.id],
        )
        for check, clearance, requester, generation in rows
    ], total
