"""The yardstick for bench/ledger.py: the same usages posted by plain psycopg, the way a
first version would (issue 10's "30-line psycopg baseline"), so that every run measures it
on the same machine and figures from machines of different speed compare (ours / baseline).

Per transaction: the entry, its legs (``executemany``) and each account's balance moved by an
UPDATE of its row, in id order; one connection, each transaction committed on its own,
durably. None of our posting's work is left out of the database's: the same tables, indexes,
foreign keys and the deferred balance check at commit; no idempotency replay, no account made
on first use (every account exists), no balance slots (one connection has no one to queue on).
"""

import time
import uuid

import psycopg

from bench.server import processes_cpu_s
from payouts.split import Usage
from payouts.usage import usage_entry

_ENTRY = """INSERT INTO journal_entry (id, idempotency_key, event, memo, generation_id,
    leg_count, posted_at) VALUES (%s, %s, %s, %s, %s, %s, now())"""
_LEG = """INSERT INTO journal_leg (entry_id, position, entry_leg_count, account_id, currency,
    debit_minor, credit_minor) VALUES (%s, %s, %s, %s, %s, %s, %s)"""
_MOVE = "UPDATE ledger_account SET balance_minor = balance_minor + %s WHERE id = %s"


def post_baseline(url: str, batches: list[list[Usage]]) -> dict:
    """Post each batch in a transaction of its own: entries a second, and the CPU an entry
    took here and in the server's backend."""
    with psycopg.connect(url, autocommit=True) as connection:
        accounts = connection.execute(
            "SELECT owner_id, kind, currency, id FROM ledger_account"
        ).fetchall()
        ids = {
            (owner, kind, currency): account_id for owner, kind, currency, account_id in accounts
        }
        backend = [connection.info.backend_pid]
        cpu, server, started = time.process_time(), processes_cpu_s(backend), time.perf_counter()
        for batch in batches:
            with connection.transaction(), connection.cursor() as cursor:
                moves: dict[uuid.UUID, int] = {}
                for usage in batch:
                    draft = usage_entry(usage)
                    entry_id, count = uuid.uuid4(), len(draft.legs)
                    cursor.execute(
                        _ENTRY,
                        (entry_id, draft.key, draft.event, draft.memo, usage.generation_id, count),
                    )
                    legs = []
                    for position, leg in enumerate(draft.legs):
                        ref = leg.account
                        account_id = ids[(ref.owner_id, ref.kind.value, ref.currency)]
                        legs.append(
                            (
                                entry_id,
                                position,
                                count,
                                account_id,
                                ref.currency,
                                leg.debit_minor,
                                leg.credit_minor,
                            )
                        )
                        moves[account_id] = moves.get(account_id, 0) + ref.movement(
                            debit_minor=leg.debit_minor, credit_minor=leg.credit_minor
                        )
                    cursor.executemany(_LEG, legs)
                cursor.executemany(_MOVE, [(moves[key], key) for key in sorted(moves)])
        elapsed, spent = time.perf_counter() - started, time.process_time() - cpu
        served = processes_cpu_s(backend) - server
    entries = sum(len(batch) for batch in batches)
    return {
        "entries": entries,
        "entries_per_second": round(entries / elapsed),
        "cpu_us_per_entry": {
            "client": round(spent * 1e6 / entries),
            "server": round(served * 1e6 / entries),
        },
    }
