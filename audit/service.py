"""The append-only, hash-chained audit log that every domain records its events in.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON
body, so altering, deleting or reordering any entry breaks the chain at that entry. The
database refuses UPDATE and DELETE on entries (triggers, see the migrations); verification
finds what a privileged attacker did anyway.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from audit.models import AuditEntry, AuditHead
from clearhouse import signing
from clearhouse.db import utcnow
from clearhouse.keys import KeyRing
from clearhouse.pagination import PageParams, paginate
from clearhouse.settings import Settings

GENESIS_HASH = "0" * 64


def canonical_json(body: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are hashed (no floats are logged)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_json(body)).hexdigest()


def record_event(
    session: Session,
    *,
    action: str,
    actor_id: uuid.UUID | None,
    asset_id: uuid.UUID | None,
    details: dict[str, Any],
) -> AuditEntry:
    """Append one entry in the caller's transaction; appends are serialised on the head row."""
    # The migration creates the head row; locking it orders concurrent appends.
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    body = {
        "seq": head.seq + 1,
        "at": utcnow().isoformat(),
        "action": action,
        "actor_id": str(actor_id) if actor_id else None,
        "asset_id": str(asset_id) if asset_id else None,
        "details": details,
    }
    entry = AuditEntry(
        seq=body["seq"],
        asset_id=asset_id,
        action=action,
        body=body,
        prev_hash=head.hash,
        hash=entry_hash(head.hash, body),
    )
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    session.add(head)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(session: Session, *, batch_size: int = 1000) -> ChainReport:
    """Walk the whole chain; report the first entry (by position) whose link or hash is wrong."""
    prev_hash, expected_seq = GENESIS_HASH, 1
    rows = session.exec(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    )
    for entry in rows:
        problem = _entry_problem(entry, expected_seq=expected_seq, prev_hash=prev_hash)
        if problem:
            return ChainReport(False, expected_seq - 1, expected_seq, problem)
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    head = session.get(AuditHead, 1)
    last_seq = expected_seq - 1
    if head is not None and (head.seq, head.hash) != (last_seq, prev_hash):
        if head.seq > last_seq:
            reason = f"the log ends at entry {last_seq} but {head.seq} were written"
            return ChainReport(False, last_seq, last_seq + 1, reason)
        return ChainReport(False, last_seq, head.seq, "the head does not match the last entry")
    return ChainReport(True, last_seq)


def _entry_problem(entry: AuditEntry, *, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (found {entry.seq} in its place)"
    body = entry.body
    if body.get("seq") != entry.seq:
        return "the entry's body belongs at another position (reordered)"
    if body.get("action") != entry.action or body.get("asset_id") != (
        str(entry.asset_id) if entry.asset_id else None
    ):
        return "the entry's columns disagree with its body"
    if entry.prev_hash != prev_hash:
        return "the link to the previous entry is broken"
    if entry.hash != entry_hash(prev_hash, body):
        return "the entry's content does not match its hash (altered)"
    return None


@dataclass(frozen=True)
class SignedCheckpoint:
    token: str
    seq: int
    hash: str


def sign_checkpoint(session: Session, *, settings: Settings, keys: KeyRing) -> SignedCheckpoint:
    """The chain's head, signed with the receipt key: a holder who keeps it can later prove
    that the log up to that entry was not rewritten, even by someone who controls the
    database (they cannot sign a new head)."""
    head = session.exec(select(AuditHead).where(AuditHead.id == 1)).one()
    claims: dict[str, str | int] = {
        "iss": settings.issuer,
        "iat": int(utcnow().timestamp()),
        "jti": str(uuid.uuid4()),
        "seq": head.seq,
        "hash": head.hash,
    }
    token = signing.sign(claims, key=keys.receipts, typ=signing.CHECKPOINT_TYPE)
    return SignedCheckpoint(token=token, seq=head.seq, hash=head.hash)


@dataclass(frozen=True)
class CheckpointReport:
    valid: bool
    consistent: bool
    seq: int | None = None
    reason: str | None = None


def check_checkpoint(
    session: Session, *, token: str, settings: Settings, keys: KeyRing
) -> CheckpointReport:
    """Is the checkpoint ours, and does the log still hold the entry it names, unchanged?"""
    try:
        claims = signing.verify(
            token, keys=keys.receipt_keys, typ=signing.CHECKPOINT_TYPE, issuer=settings.issuer
        )
        seq, expected = int(claims["seq"]), str(claims["hash"])
    except (signing.TokenRejected, KeyError, TypeError, ValueError) as exc:
        return CheckpointReport(valid=False, consistent=False, reason=str(exc))
    entry = session.get(AuditEntry, seq) if seq else None
    chain = verify_chain(session)
    if seq and (entry is None or entry.hash != expected):
        reason = f"entry {seq} is not the one signed: the log was rewritten or cut"
    elif not chain.ok and chain.first_broken_seq <= seq:
        reason = f"the chain breaks at entry {chain.first_broken_seq}: {chain.reason}"
    else:
        return CheckpointReport(valid=True, consistent=True, seq=seq)
    return CheckpointReport(valid=True, consistent=False, seq=seq, reason=reason)


def list_asset_events(
    session: Session, *, asset_id: uuid.UUID, params: PageParams
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry).where(AuditEntry.asset_id == asset_id).order_by(AuditEntry.seq)
    return paginate(session, query, params)
