"""Rows the ledger's postings point at, inserted straight into the database: accounts (creators
and holders) and released generations (with the clearance each runs under). For the ledger's
benchmark and its tests, which post usages without running the generator."""

import uuid

from sqlalchemy import Connection, insert

from clearhouse.accounts.models import Account, Role
from clearhouse.db import utcnow
from generator.models import GenerationJob, JobState
from licensing.models import Clearance
from policies.decisions import ClearanceOutcome


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
    return [(generation_id, creator_id) for generation_id, _, creator_id in made]
