"""The ledger's write on PostgreSQL as a function, ``ledger_write_entries``: a posting calls it
in one statement, with the plan settings its statements need set on the function itself (they
were a statement of their own before it and put back by another: payouts/storage.py). SQLite
has no functions: payouts/storage.py's ``CoreStore`` writes there, as before.

Every account named is counted first (all there, or nothing is written, and the caller looks
the ids up again). Then the entries whose keys are new are inserted with their legs, and only
then are the owners' accounts locked, in id order, and their balances and the platform's
balance slots moved by the legs of the entries inserted: a posting holds the accounts' locks
from there to its commit, not while it writes its entries. The locks are FOR NO KEY UPDATE
(what an UPDATE of a balance takes anyway), not FOR UPDATE: the legs' foreign-key checks of
other postings (FOR KEY SHARE on the same accounts) do not wait for them. Two batches of 100
sharing wallets and payables, posted from two threads, had each waited for the other's whole
write and commit (bench/ledger.py, batched: 8,181-8,577 entries/s -> 10,459-10,533 in the two
quietest of five alternated rounds). The database's own checks are untouched: each entry's
legs balance (the deferred trigger of 0016), the CHECKs and foreign keys.

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-25 05:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Planned once per connection: the plan cache planned the write anew for every posting otherwise
# (a custom plan each time, a third of a posting's server CPU), and a generic plan left to
# choose read the accounts' table whole while it was small. (Migration 0034 replaces it and
# puts it back on its way down.)
WRITE_FUNCTION = """
        CREATE FUNCTION ledger_write_entries(
            new_entries json, new_legs json, account_ids uuid[], owned_ids uuid[],
            platform_ids uuid[], balance_slot smallint, at timestamptz,
            OUT accounts_found bigint, OUT inserted_keys text[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET enable_seqscan = off
        AS $$
        DECLARE
            inserted_ids uuid[];
        BEGIN
            inserted_keys := '{}';
            SELECT count(*) INTO accounts_found FROM ledger_account WHERE id = ANY(account_ids);
            IF accounts_found <> cardinality(account_ids) THEN
                RETURN;
            END IF;
            WITH entry AS (
                INSERT INTO journal_entry (id, idempotency_key, event, memo, generation_id,
                                           clearance_id, reverses_id, leg_count, posted_at)
                SELECT e.*, at
                FROM json_to_recordset(new_entries)
                    AS e(id uuid, idempotency_key text, event text, memo text,
                         generation_id uuid, clearance_id uuid, reverses_id uuid, leg_count int2)
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING id, idempotency_key
            ), legs AS (
                INSERT INTO journal_leg (entry_id, position, entry_leg_count, account_id,
                                         currency, debit_minor, credit_minor)
                SELECT leg.entry_id, leg.position, leg.entry_leg_count, leg.account_id,
                       leg.currency, leg.debit_minor, leg.credit_minor
                FROM json_to_recordset(new_legs)
                    AS leg(entry_id uuid, position int2, entry_leg_count int2, account_id uuid,
                           currency text, debit_minor int8, credit_minor int8)
                JOIN entry ON entry.id = leg.entry_id
            )
            SELECT coalesce(array_agg(id), '{}'), coalesce(array_agg(idempotency_key), '{}')
                INTO inserted_ids, inserted_keys FROM entry;
            IF cardinality(inserted_ids) = 0 THEN
                RETURN;
            END IF;
            PERFORM FROM ledger_account WHERE id = ANY(owned_ids) ORDER BY id FOR NO KEY UPDATE;
            WITH moved AS (
                SELECT account_id, sum(movement)::int8 AS movement
                FROM json_to_recordset(new_legs)
                    AS leg(entry_id uuid, account_id uuid, movement int8)
                WHERE entry_id = ANY(inserted_ids)
                GROUP BY account_id
            ), balances AS (
                UPDATE ledger_account
                SET balance_minor = ledger_account.balance_minor + moved.movement
                FROM moved
                WHERE ledger_account.id = ANY(owned_ids) AND ledger_account.id = moved.account_id
            )
            INSERT INTO ledger_balance_slot (account_id, slot, balance_minor)
            SELECT account_id, balance_slot, movement FROM moved
            WHERE account_id = ANY(platform_ids)
            ORDER BY account_id
            ON CONFLICT (account_id, slot) DO UPDATE
                SET balance_minor = ledger_balance_slot.balance_minor + excluded.balance_minor;
        END $$
"""
DROP_WRITE_FUNCTION = (
    "DROP FUNCTION ledger_write_entries(json, json, uuid[], uuid[], uuid[], smallint, timestamptz)"
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(WRITE_FUNCTION)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(DROP_WRITE_FUNCTION)
