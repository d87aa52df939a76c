"""The ledger's write function takes a posting's legs as arrays, one a column, and reads them
once: 0033's took them as JSON and parsed it twice, once to insert the legs and again, after
the accounts' locks, to move the balances (each leg's entry looked up among the inserted ones).
Parsing was a seventh of a batch's server CPU (perf over bench/ledger.py's batches: the JSON
lexer and its text to uuid and integer conversions); an array of a column is read by its type's
own input function, about 1.7 us a leg against 3 for the JSON (400 legs, 300 times each way, the
server's CPU). The sums a posting moves are taken from the legs inserted, in the statement that
inserts them, and the balances moved from those after the locks. The entries stay JSON: their
keys and memos are any text, which an array literal would have to quote.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-25 09:10:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITE_FUNCTION = """
    CREATE FUNCTION ledger_write_entries(
        new_entries json,
        leg_entry_ids uuid[], leg_positions int2[], leg_counts int2[], leg_account_ids uuid[],
        leg_currencies text[], leg_debits int8[], leg_credits int8[], leg_movements int8[],
        account_ids uuid[], owned_ids uuid[], platform_ids uuid[], balance_slot smallint,
        at timestamptz,
        OUT accounts_found bigint, OUT inserted_keys text[])
    LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan
    SET enable_seqscan = off
    AS $$
    DECLARE
        moved_ids uuid[];
        moved_amounts int8[];
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
        ), leg AS (
            SELECT leg.*
            FROM unnest(leg_entry_ids, leg_positions, leg_counts, leg_account_ids,
                        leg_currencies, leg_debits, leg_credits, leg_movements)
                AS leg(entry_id, position, entry_leg_count, account_id, currency, debit_minor,
                       credit_minor, movement)
            JOIN entry ON entry.id = leg.entry_id
        ), written AS (
            INSERT INTO journal_leg (entry_id, position, entry_leg_count, account_id,
                                     currency, debit_minor, credit_minor)
            SELECT entry_id, position, entry_leg_count, account_id, currency, debit_minor,
                   credit_minor
            FROM leg
        ), moved AS (
            SELECT account_id, sum(movement)::int8 AS movement FROM leg GROUP BY account_id
        )
        SELECT (SELECT coalesce(array_agg(idempotency_key), '{}') FROM entry),
               array_agg(account_id ORDER BY account_id),
               array_agg(movement ORDER BY account_id)
            INTO inserted_keys, moved_ids, moved_amounts
            FROM moved;
        IF cardinality(inserted_keys) = 0 THEN
            RETURN;
        END IF;
        PERFORM FROM ledger_account WHERE id = ANY(owned_ids) ORDER BY id FOR NO KEY UPDATE;
        WITH moved AS (
            SELECT * FROM unnest(moved_ids, moved_amounts) AS moved(account_id, movement)
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


def _previous():
    """Migration 0033's module, whose function this one replaces (Alembic loads a revision's
    file by its path: the folder is not a package)."""
    path = Path(__file__).with_name("0033_ledger_write_function.py")
    spec = importlib.util.spec_from_file_location("ledger_write_function_0033", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_previous().DROP_WRITE_FUNCTION)
        op.execute(WRITE_FUNCTION)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION ledger_write_entries(json, uuid[], int2[], int2[], uuid[], text[], "
            "int8[], int8[], int8[], uuid[], uuid[], uuid[], smallint, timestamptz)"
        )
        op.execute(_previous().WRITE_FUNCTION)
