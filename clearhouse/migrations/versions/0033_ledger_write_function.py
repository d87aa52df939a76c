"""The ledger's write on PostgreSQL as a function, ``ledger_write_entries``: a posting calls it
in one statement, with the plan settings its statements need set on the function itself (they
were a statement of their own before it and put back by another: payouts/storage.py). SQLite
has no functions: payouts/storage.py's ``CoreStore`` writes there, as before.

What it does is what the one statement it replaces did: every account named is counted first
(all there, or nothing is locked or written, and the caller looks the ids up again); the
owners' accounts are locked in id order; then the entries whose keys are new are inserted,
their legs, and the balances they move (the owners' rows, the platform's accounts' balance
slots), in one statement whose parts see one snapshot, so the legs are joined to the entries it
inserted, not read back. The database's own checks are untouched: each entry's legs balance
(the deferred trigger of 0016), the CHECKs and foreign keys.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # Planned once per connection: the plan cache planned the write anew for every posting
    # otherwise (a custom plan each time, a third of a posting's server CPU), and a generic
    # plan left to choose read the accounts' table whole while it was small.
    op.execute(
        """
        CREATE FUNCTION ledger_write_entries(
            new_entries json, new_legs json, account_ids uuid[], owned_ids uuid[],
            platform_ids uuid[], balance_slot smallint, at timestamptz,
            OUT accounts_found bigint, OUT inserted_keys text[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET enable_seqscan = off
        AS $$
        BEGIN
            inserted_keys := '{}';
            SELECT count(*) INTO accounts_found FROM ledger_account WHERE id = ANY(account_ids);
            IF accounts_found <> cardinality(account_ids) THEN
                RETURN;
            END IF;
            PERFORM FROM ledger_account WHERE id = ANY(owned_ids) ORDER BY id FOR UPDATE;
            WITH entry AS (
                INSERT INTO journal_entry (id, idempotency_key, event, memo, generation_id,
                                           clearance_id, reverses_id, leg_count, posted_at)
                SELECT e.*, at
                FROM json_to_recordset(new_entries)
                    AS e(id uuid, idempotency_key text, event text, memo text,
                         generation_id uuid, clearance_id uuid, reverses_id uuid, leg_count int2)
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING id, idempotency_key
            ), leg AS (
                SELECT leg.*
                FROM json_to_recordset(new_legs)
                    AS leg(entry_id uuid, position int2, entry_leg_count int2, account_id uuid,
                           currency text, debit_minor int8, credit_minor int8, movement int8)
                JOIN entry ON entry.id = leg.entry_id
            ), legs AS (
                INSERT INTO journal_leg (entry_id, position, entry_leg_count, account_id,
                                         currency, debit_minor, credit_minor)
                SELECT entry_id, position, entry_leg_count, account_id, currency, debit_minor,
                       credit_minor
                FROM leg
            ), moved AS (
                SELECT account_id, sum(movement)::int8 AS movement FROM leg GROUP BY account_id
            ), balances AS (
                UPDATE ledger_account
                SET balance_minor = ledger_account.balance_minor + moved.movement
                FROM moved
                WHERE ledger_account.id = ANY(owned_ids) AND ledger_account.id = moved.account_id
            ), slots AS (
                INSERT INTO ledger_balance_slot (account_id, slot, balance_minor)
                SELECT account_id, balance_slot, movement FROM moved
                WHERE account_id = ANY(platform_ids)
                ORDER BY account_id
                ON CONFLICT (account_id, slot) DO UPDATE
                    SET balance_minor = ledger_balance_slot.balance_minor
                        + excluded.balance_minor
            )
            SELECT coalesce(array_agg(idempotency_key), '{}') INTO inserted_keys FROM entry;
        END $$
        """
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        "DROP FUNCTION ledger_write_entries(json, json, uuid[], uuid[], uuid[], smallint, "
        "timestamptz)"
    )
