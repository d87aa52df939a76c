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
from audit.reading import owner_entries
from clearhouse import signing
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import InvalidRequest, NotFound
from clearhouse.keys import KeyRing
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
    subject_id: uuid.UUID | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction; appends are serialised on the head row.

    ``subject_id``, for an event without an asset, names the account it is about (an
    organisation, a person whose agents changed): it goes in ``details`` and in a column that
    the organisation's and the likeness's logs read (:mod:`audit.reading`)."""
    if subject_id is not None:
        if asset_id is not None:
            raise ValueError("an entry is about an asset or an account, not both")
        details = {"subject_id": str(subject_id), **details}
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
        subject_id=subject_id,
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
    """Walk the whole chain; report the first entry (by position) whose link or hash is wrong.

    ``session`` must read one snapshot (:func:`clearhouse.db.snapshot_session`): the entries
    and the head are read by separate statements, and an entry written between them would
    otherwise look like a chain cut short."""
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
    if (
        body.get("action") != entry.action
        or body.get("asset_id") != _text(entry.asset_id)
        or _subject(body) != _text(entry.subject_id)
    ):
        return "the entry's columns disagree with its body"
    if entry.prev_hash != prev_hash:
        return "the link to the previous entry is broken"
    if entry.hash != entry_hash(prev_hash, body):
        return "the entry's content does not match its hash (altered)"
    return None


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


def _subject(body: dict[str, Any]) -> str | None:
    """The body's subject, as the column copies it: only an entry without an asset has one."""
    details = body.get("details")
    if body.get("asset_id") is not None or not isinstance(details, dict):
        return None
    return details.get("subject_id")


@dataclass(frozen=True)
class SignedCheckpoint:
    token: str
    hash: str


def sign_checkpoint(
    session: Session, *, owner: Account, settings: Settings, keys: KeyRing
) -> SignedCheckpoint:
    """The owner's latest entry, signed with the receipt key: a holder who keeps it can later
    prove that this entry was not rewritten, even by someone who controls the database (they
    cannot sign a new checkpoint), and any rewrite of the chain before it changes its hash.

    It names the entry by its hash alone: nothing in it tells how long the log is.
    """
    entry = session.exec(owner_entries(owner.id).order_by(AuditEntry.seq.desc()).limit(1)).first()
    if entry is None:
        raise NotFound("You have no audit entries yet: a checkpoint names one of yours.")
    claims: dict[str, str | int] = {
        "iss": settings.issuer,
        "sub": str(owner.id),
        "iat": int(utcnow().timestamp()),
        "jti": str(uuid.uuid4()),
        "hash": entry.hash,
    }
    token = signing.sign(claims, key=keys.receipts, typ=signing.CHECKPOINT_TYPE)
    return SignedCheckpoint(token=token, hash=entry.hash)


@dataclass(frozen=True)
class CheckpointReport:
    valid: bool
    consistent: bool
    hash: str | None = None
    reason: str | None = None


def check_checkpoint(
    session: Session, *, owner: Account, token: str, settings: Settings, keys: KeyRing
) -> CheckpointReport:
    """Is the checkpoint ours, and does the log still hold the owner's entry it names,
    unchanged? Only that entry is read (by its unique hash): whether the chain is intact
    elsewhere is for admins (:func:`verify_chain`), and so is how long it is."""
    try:
        claims = signing.verify(
            token,
            keys=keys.receipt_keys,
            typ=signing.CHECKPOINT_TYPE,
            issuer=settings.issuer,
            required=("iss", "iat", "jti", "sub"),
        )
    except signing.MalformedToken as exc:
        raise InvalidRequest(
            f"The token is malformed: {exc}. Send a checkpoint as issued."
        ) from exc
    except signing.TokenRejected as exc:
        return CheckpointReport(valid=False, consistent=False, reason=str(exc))
    signed_hash = claims.get("hash")
    if not isinstance(signed_hash, str):
        return CheckpointReport(valid=False, consistent=False, reason="no entry hash signed")
    if claims["sub"] != str(owner.id):
        raise NotFound("This checkpoint names an entry of another account; check your own.")
    entry = session.exec(owner_entries(owner.id).where(AuditEntry.hash == signed_hash)).first()
    if entry is None:
        reason = "the entry it names is no longer in the log: the log was rewritten or cut"
    elif problem := _entry_problem(entry, expected_seq=entry.seq, prev_hash=entry.prev_hash):
        reason = f"the entry it names was altered: {problem}"
    else:
        return CheckpointReport(valid=True, consistent=True, hash=signed_hash)
    return CheckpointReport(valid=True, consistent=False, hash=signed_hash, reason=reason)


def public_entry(entry: AuditEntry) -> dict[str, Any]:
    """What the owner of an asset sees of one of its entries: what happened, when, by whom,
    and the entry's hash; not its position in the log (``seq``) nor the hash of the entry
    before it, which may be another holder's."""
    return {
        "action": entry.action,
        "body": {key: value for key, value in entry.body.items() if key != "seq"},
        "hash": entry.hash,
    }


def entry_intact(entry: AuditEntry) -> bool:
    """Whether the entry still matches its own hash and columns: the check a checkpoint's
    verification makes of the entry it names, made of one entry the owner reads."""
    return _entry_problem(entry, expected_seq=entry.seq, prev_hash=entry.prev_hash) is None
