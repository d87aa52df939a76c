"""Rows the ledger's postings point at, inserted straight into the database: accounts (creators
and holders), released generations (with the clearance each runs under), and for statements
licensed assets and each generation's licences and charge. For the ledger's benchmark and its
tests, which post usages without running the generator."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert
from sqlmodel import Session

from clearhouse.accounts.models import Account, Role
from clearhouse.db import utcnow
from generator.models import GenerationJob, JobState
from licensing.models import Charge, Clearance, Licence
from payouts.split import LicensedUse, Usage
from policies.decisions import ClearanceOutcome
from policies.models import PolicyVersion
from rights.claims.models import AssetClaim, ClaimStatus, EvidenceKind
from rights.models import Asset, AssetKind, ConsentGrant


def insert_accounts(connection: Connection, count: int, *, role: Role) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    if not ids:
        return ids
    now = utcnow()
    connection.execute(
        insert(Account.__table__),
        [
            {
                "id": account_id,
                "email": f"{account_id.hex}@ledger.example",
                "password_hash": "not a password hash: never signs in",
                "display_name": role.value,
                "date_of_birth": None,
                "role": role,
                "revenue_share_bps": 8000,
                "created_at": now,
                "email_verified_at": now,
            }
            for account_id in ids
        ],
    )
    return ids


def insert_generations(
    connection: Connection, *, creator_ids: list[uuid.UUID], count: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``count`` released generations, by the creators in turn: (generation id, creator id)."""
    made = _insert_generations(connection, creator_ids=creator_ids, count=count)
    return [(generation_id, creator_id) for generation_id, _, creator_id in made]


def _insert_generations(
    connection: Connection, *, creator_ids: list[uuid.UUID], count: int
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(generation id, clearance id, creator id) of each."""
    now = utcnow()
    made = [(uuid.uuid4(), uuid.uuid4(), creator_ids[n % len(creator_ids)]) for n in range(count)]
    request = {"prompt": "a ledger entry", "declared_use": "personal", "parameters": {}}
    connection.execute(
        insert(Clearance.__table__),
        [
            {
                "id": clearance_id,
                "requester_id": creator_id,
                "outcome": ClearanceOutcome.cleared,
                "request_digest": "0" * 64,
                "content_categories": [],
                "reasons": [],
                "created_at": now,
                **request,
            }
            for _, clearance_id, creator_id in made
        ],
    )
    connection.execute(
        insert(GenerationJob.__table__),
        [
            {
                "id": generation_id,
                "requester_id": creator_id,
                "clearance_id": clearance_id,
                "state": JobState.released,
                "clearance_token": "-",
                "reasons": [],
                "created_at": now,
                **request,
            }
            for generation_id, clearance_id, creator_id in made
        ],
    )
    return made


@dataclass(frozen=True, slots=True)
class LicenceTerms:
    """An asset licensed under a grant, at a fee, for a holder's share."""

    asset_id: uuid.UUID
    grant_id: uuid.UUID
    policy_version_id: uuid.UUID
    holder_id: uuid.UUID
    price_minor: int
    revenue_share_bps: int


def insert_licensed_assets(
    connection: Connection, *, holder_id: uuid.UUID, count: int, price_minor: int, share_bps: int
) -> list[LicenceTerms]:
    """``count`` characters of the holder's, each with its claim verified (so it earns), a
    policy version and an active grant."""
    terms = []
    with Session(bind=connection) as session:
        for _ in range(count):
            asset = Asset(
                owner_id=holder_id,
                kind=AssetKind.character,
                handle=f"c{uuid.uuid4().hex[:12]}",
                name="A ledger character",
            )
            policy = PolicyVersion(
                asset_id=asset.id,
                version=1,
                document={"price": {"currency": "USD", "per_use_minor": price_minor}},
                revenue_share_bps=share_bps,
                created_by=holder_id,
            )
            grant = ConsentGrant(asset_id=asset.id, policy_version_id=policy.id)
            claim = AssetClaim(
                asset_id=asset.id,
                owner_id=holder_id,
                status=ClaimStatus.verified,
                evidence_kind=EvidenceKind.link,
                reference="https://ledger.example/mark",
                statement="A character made for the ledger's figures.",
                submitted_at=utcnow(),
                decided_at=utcnow(),
            )
            session.add(asset)
            session.flush()
            session.add(claim)
            session.add(policy)
            session.flush()
            session.add(grant)
            session.flush()
            terms.append(
                LicenceTerms(asset.id, grant.id, policy.id, holder_id, price_minor, share_bps)
            )
    return terms


def insert_licensed_generations(
    connection: Connection,
    *,
    creator_ids: list[uuid.UUID],
    licences: Sequence[Sequence[LicenceTerms]],
    compute_minor: int = 40,
    currency: str = "USD",
) -> list[Usage]:
    """A released generation for each item of ``licences``, licensing those assets, with its
    charge (compute plus the fees): the usage each release would post."""
    now = utcnow()
    made = _insert_generations(connection, creator_ids=creator_ids, count=len(licences))
    usages = []
    licence_rows = []
    charge_rows = []
    for (generation_id, clearance_id, creator_id), terms in zip(made, licences, strict=True):
        total = compute_minor + sum(term.price_minor for term in terms)
        for term in terms:
            licence_rows.append(
                {
                    "id": uuid.uuid4(),
                    "generation_id": generation_id,
                    "clearance_id": clearance_id,
                    "asset_id": term.asset_id,
                    "grant_id": term.grant_id,
                    "policy_version_id": term.policy_version_id,
                    "price_minor": term.price_minor,
                    "currency": currency,
                    "created_at": now,
                }
            )
        charge_rows.append(
            {
                "id": uuid.uuid4(),
                "generation_id": generation_id,
                "payer_id": creator_id,
                "clearance_id": clearance_id,
                "amount_minor": total,
                "currency": currency,
                "created_at": now,
            }
        )
        usages.append(
            Usage(
                generation_id=generation_id,
                creator_id=creator_id,
                total_minor=total,
                currency=currency,
                licences=tuple(
                    LicensedUse(term.holder_id, term.price_minor, term.revenue_share_bps)
                    for term in terms
                ),
            )
        )
    if licence_rows:
        connection.execute(insert(Licence.__table__), licence_rows)
    connection.execute(insert(Charge.__table__), charge_rows)
    return usages
