"""Clearing one generation request, once the scans have found what it touches.

In one short write transaction: read the facts (licensing/facts.py), decide (the pure
evaluator), price what is allowed (the open quote), record the clearance with every asset it
touched (so each owner sees it, whatever the outcome), queue the approvals it waits for, and
sign a token when it is cleared. A cleared request that costs more than the requester's
wallet holds is refused (402, payouts/credits.py) and nothing of it is recorded. The scans
(text, images, faces) run before, outside any transaction.
"""

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from clearhouse.accounts.models import Account
from clearhouse.db import queued_writes
from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from licensing.facts import read_facts
from licensing.metrics import Stage, timed
from licensing.models import ApprovalStatus, Clearance, ClearedAsset, FoundIn, UseApproval
from licensing.quote import GenerationParameters, Quote, QuoteLine, quote
from licensing.tokens import issue_clearance_token
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notice_rows, write_notices
from payouts.credits import require_credits
from policies.decisions import AssetOutcome, ClearanceOutcome, Decision, ReasonCode
from policies.document import ContentCategory, Use
from policies.evaluator import evaluate
from policies.facts import GenerationRequest, MatchedAsset, Requester
from rights.matching.content_check import ContentFinding
from rights.matching.restrictions import RestrictionCheck
from rights.matching.types import ProtectedMatch


@dataclass(frozen=True)
class Touch:
    """One way the request touches a registered asset: what found it, and where."""

    asset_id: uuid.UUID
    evidence: Mapping[str, Any]
    """``kind`` (name, alias, handle, description, reference_image, face), ``score``, and
    where: ``span`` in the prompt, or ``input`` (and ``frame``) in the media."""


@dataclass(frozen=True)
class RestrictionReading:
    """The prompt as the restriction check reads it: its embedding and content findings (the
    text check's), for the restrictions of whatever policies the clearance reads."""

    check: RestrictionCheck
    embedding: Any
    content: Sequence[ContentFinding]

    def broken(self, restrictions: Collection[str]) -> dict[str, str]:
        if not restrictions:
            return {}
        return self.check.broken(restrictions, embedding=self.embedding, content=self.content)


@dataclass(frozen=True)
class ScannedRequest:
    """What a request's prompt and media touch, the content its prompt shows, the protected
    entries it names or describes, and its reading for the owners' restrictions: everything
    the scans found, which clearing takes whole so that no caller leaves a part out."""

    touches: list[Touch]
    content: list[ContentFinding]
    protected: list[ProtectedMatch]
    restrictions: RestrictionReading

    def with_touches(self, touches: Sequence[Touch]) -> "ScannedRequest":
        """The same scan, touching ``touches`` too (assets named other than in the prompt,
        such as a generation's cameos)."""
        return replace(self, touches=[*self.touches, *touches])


@dataclass(frozen=True)
class ClearanceRequest:
    """A generation request as clearance reads it."""

    prompt: str
    declared_use: Use
    parameters: Mapping[str, Any]
    """As sent: what the digest is computed over, with the prompt and the input media."""
    generation: GenerationParameters
    """The parameters the price depends on, read from ``parameters``."""
    declared_content: frozenset[ContentCategory]
    """The content categories the requester says the output shows."""
    digest: str
    input_media_sha256: tuple[str, ...] = ()
    """The SHA-256 of each input file, in order (the digest covers them)."""


@dataclass(frozen=True)
class ClearanceResult:
    clearance: Clearance
    decision: Decision
    quote: Quote | None
    token: str | None
    cleared_assets: tuple[ClearedAsset, ...]
    verified: frozenset[uuid.UUID]
    """The touched assets whose holder's claim is verified, read with the facts."""


def clear(
    session: Session,
    *,
    requester: Account,
    request: ClearanceRequest,
    scanned: ScannedRequest,
    now: datetime,
    settings: Settings,
    keys: KeyRing,
) -> ClearanceResult:
    """Decide, price, record and (when cleared) sign; ``session`` is a write transaction.

    ``scanned``: what the scans found. The request shows the content categories its prompt
    shows and those its requester declared; each protected entry (no owner) found denies it;
    the restrictions reading is compared with the policies that have restrictions."""
    evidence = evidence_by_asset(scanned.touches)
    # Core statements on the transaction's connection: the clearance's rows are written once
    # and never read back, and the ORM's unit of work and instances cost more than the
    # inserts themselves.
    connection = session.connection()
    facts = read_facts(
        session,
        requester=requester,
        asset_ids=evidence.keys(),
        request_digest=request.digest,
        now=now,
    )
    generation_request = evaluated_request(
        requester=facts.requester,
        digest=request.digest,
        declared_use=request.declared_use,
        declared_content=request.declared_content,
        scanned=scanned,
        assets=facts.assets,
    )
    with timed(Stage.evaluation):
        decision = evaluate(
            generation_request,
            assets=facts.assets,
            approvals=facts.approvals,
            declines=facts.declines,
            waiting=facts.waiting,
            now=now,
            minor_daily_generation_limit=settings.minor_daily_generation_limit,
        )
    priced = quote(request.generation, decision=decision)
    if decision.outcome == ClearanceOutcome.cleared and priced.total_minor > 0:
        # Before anything is recorded: a 402 leaves no clearance, no token and no job.
        require_credits(
            session,
            creator_id=requester.id,
            amount_minor=priced.total_minor,
            currency=priced.currency,
            settings=settings,
            now=now,
        )
    clearance_id = uuid.uuid4()
    token = None
    if decision.outcome == ClearanceOutcome.cleared:
        with timed(Stage.signing):
            token = issue_clearance_token(
                clearance_id=clearance_id,
                request=generation_request,
                decision=decision,
                quote=priced,
                now=now,
                settings=settings,
                keys=keys,
            )
    clearance = {
        "id": clearance_id,
        "requester_id": requester.id,
        "outcome": decision.outcome,
        "request_digest": request.digest,
        "prompt": request.prompt,
        "declared_use": request.declared_use.value,
        "parameters": dict(request.parameters),
        "input_media_sha256": list(request.input_media_sha256),
        "content_categories": content_document(
            declared=request.declared_content, found=scanned.content
        ),
        "reasons": requester_reasons(decision),
        "quote": quote_document(priced) if decision.outcome != ClearanceOutcome.denied else None,
        "created_at": now,
        "token_expires_at": (
            now + timedelta(minutes=settings.clearance_token_minutes) if token else None
        ),
    }
    fees = _fees_by_asset(priced)
    recorded = [
        {
            "id": uuid.uuid4(),
            "clearance_id": clearance_id,
            "asset_id": asset.asset_id,
            "outcome": asset.outcome,
            "found_in": FoundIn.request,
            "reasons": [{"code": r.code.value, "text": r.text} for r in asset.reasons],
            "matched_by": evidence.get(asset.asset_id, []),
            "grant_id": asset.grant_id,
            "policy_version_id": asset.policy_version_id,
            "fee_minor": fees.get(asset.asset_id),
            "output_check_id": None,
            "disclosed": asset.disclosed,
            "created_at": now,
        }
        for asset in decision.assets
    ]
    owners = {asset.id: asset.owner_id for asset in facts.assets}
    approvals = _approvals_to_ask(
        recorded,
        outcome=decision.outcome,
        asked={each.asset_id for each in facts.waiting if each.request_digest == request.digest},
        owners=owners,
        requester_id=requester.id,
        digest=request.digest,
        expires_at=now + timedelta(hours=settings.approval_hours),
        now=now,
    )
    notices = notice_rows(
        session,
        _owner_notices(
            clearance_id=clearance_id,
            recorded=recorded,
            approvals=approvals,
            handles={asset.id: asset.handle for asset in facts.assets},
            owners=owners,
        ),
        now=now,
    )
    # Everything read first: every row of the clearance then goes in one round trip.
    with queued_writes(connection):
        connection.execute(_INSERT_CLEARANCE, clearance)
        if recorded:
            connection.execute(_INSERT_CLEARED_ASSETS, recorded)
        if approvals:
            connection.execute(_INSERT_APPROVALS, approvals)
        if notices.notices:
            write_notices(session, notices)
    return ClearanceResult(
        clearance=_record_of(Clearance, clearance),
        decision=decision,
        quote=priced,
        token=token,
        cleared_assets=tuple(_record_of(ClearedAsset, row) for row in recorded),
        verified=facts.verified,
    )


def evaluated_request(
    *,
    requester: Requester,
    digest: str,
    declared_use: Use,
    declared_content: frozenset[ContentCategory],
    scanned: ScannedRequest,
    assets: Sequence[MatchedAsset],
) -> GenerationRequest:
    """The request as the evaluator reads it: the content categories its prompt shows (read
    beside the names of what it touches) and those its requester declared, the protected
    entries it names, and the restrictions of ``assets``' policies it breaks. Clearing and the
    portal's policy preview both read a request through this."""
    return GenerationRequest(
        requester=requester,
        digest=digest,
        declared_use=declared_use,
        content_categories=declared_content | {finding.category for finding in scanned.content},
        content_found={finding.category: finding.explanation() for finding in scanned.content},
        protected_found=tuple((found.kind, found.name) for found in scanned.protected),
        restrictions_broken=restrictions_broken(assets, scanned.restrictions),
    )


def restrictions_broken(
    assets: Sequence[MatchedAsset], reading: RestrictionReading
) -> dict[str, str]:
    """Which of the restrictions of the matched assets' policies the prompt breaks: compared
    only where a policy has any, with restrictions embedded when their version was saved."""
    written = {
        restriction
        for asset in assets
        for grant in asset.grants
        if grant.policy is not None
        for restriction in grant.policy.document.restrictions
    }
    if not written:
        return {}
    return reading.broken(written)


def evidence_by_asset(touches: Sequence[Touch]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Every way each asset was touched, in the order found: what its record keeps."""
    evidence: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for touch in touches:
        evidence.setdefault(touch.asset_id, []).append(dict(touch.evidence))
    return evidence


def requester_reasons(decision: Decision) -> list[str]:
    """What the requester is told, denials first; nothing that names an undisclosed face."""
    sentences = [reason.text for reason in decision.request_reasons]
    order = {AssetOutcome.deny: 0, AssetOutcome.needs_approval: 1, AssetOutcome.allow: 2}
    for asset in sorted(decision.assets, key=lambda a: order[a.outcome]):
        for reason in asset.requester_reasons:
            if reason.text not in sentences:
                sentences.append(reason.text)
    return sentences


def content_document(
    *, declared: frozenset[ContentCategory], found: Sequence[ContentFinding]
) -> list[dict[str, Any]]:
    """The content categories a request shows, as stored: each declared, detected or both,
    with what in the prompt showed it (see `licensing.schemas.ContentShown`)."""
    evidence = {finding.category: finding.evidence for finding in found}
    return [
        {
            "category": category.value,
            "declared": category in declared,
            "detected_by": [
                {
                    "kind": item.kind.value,
                    "text": item.text,
                    "span": [item.start, item.end] if item.start is not None else None,
                    "score": item.score,
                }
                for item in evidence.get(category, ())
            ],
        }
        for category in ContentCategory
        if category in declared or category in evidence
    ]


def quote_document(priced: Quote) -> dict[str, Any]:
    return {
        "currency": priced.currency,
        "rate_card_version": priced.rate_card_version,
        "total_minor": priced.total_minor,
        "lines": [quote_line_document(line) for line in priced.lines],
    }


def quote_line_document(line: QuoteLine) -> dict[str, Any]:
    """One quote line as stored (a clearance's quote, a licence offer's lines)."""
    return {
        "item": line.item.value,
        "description": line.description,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price_minor": line.unit_price_minor,
        "amount_minor": line.amount_minor,
        "asset_id": str(line.asset_id) if line.asset_id else None,
    }


_INSERT_CLEARANCE = insert(Clearance.__table__)
_INSERT_CLEARED_ASSETS = insert(ClearedAsset.__table__)
_INSERT_APPROVALS = insert(UseApproval.__table__)


def _record_of(model: type[Clearance] | type[ClearedAsset], row: dict[str, Any]) -> Any:
    """The row just inserted, as its table model for reading: built without validation (the
    values are ours) and attached to no session, a tenth of a model's usual cost."""
    return model.model_construct(**row)


def _fees_by_asset(priced: Quote) -> dict[uuid.UUID, int]:
    fees: dict[uuid.UUID, int] = {}
    for line in priced.lines:
        if line.asset_id is not None:
            fees[line.asset_id] = fees.get(line.asset_id, 0) + line.amount_minor
    return fees


def _approvals_to_ask(
    recorded: Sequence[Mapping[str, Any]],
    *,
    outcome: ClearanceOutcome,
    asked: Collection[uuid.UUID],
    owners: Mapping[uuid.UUID, uuid.UUID],
    requester_id: uuid.UUID,
    digest: str,
    expires_at: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """The approvals to queue, one for each owner this request waits for, but those it waits
    for already (``asked``: sent before, unchanged). The facts were read in the requester's
    turn at these assets' queues (licensing/facts.py), so no other request of theirs has asked
    since. A request denied anyway asks nobody: no yes could clear it (policies/evaluator.py
    says so in the asset's reasons)."""
    if outcome != ClearanceOutcome.needs_approval:
        return []
    return [
        {
            "id": uuid.uuid4(),
            "cleared_asset_id": row["id"],
            "asset_id": row["asset_id"],
            "owner_id": owners[row["asset_id"]],
            "requester_id": requester_id,
            "request_digest": digest,
            "status": ApprovalStatus.pending,
            "created_at": now,
            "expires_at": expires_at,
            "decided_at": None,
        }
        for row in recorded
        if row["outcome"] == AssetOutcome.needs_approval and row["asset_id"] not in asked
    ]


def blocked_facts(*, asset_id: uuid.UUID, handle: str, found_in: FoundIn) -> dict[str, Any]:
    """What the owner of a blocked asset is told: which asset, and where it was found (the
    request or the generated output). Nothing about the requester beyond their uses page."""
    return {"asset_id": str(asset_id), "handle": handle, "found_in": found_in.value}


# Denied only because the owner was asked already, about this requester: their no stands, or
# another request of theirs waits for the owner's answer. Nothing new to tell the owner.
_ASKED_ALREADY = {ReasonCode.owner_declined.value, ReasonCode.earlier_request_waiting.value}


def _asked_already(row: Mapping[str, Any]) -> bool:
    return len(row["reasons"]) == 1 and row["reasons"][0]["code"] in _ASKED_ALREADY


def _owner_notices(
    *,
    clearance_id: uuid.UUID,
    recorded: Sequence[Mapping[str, Any]],
    approvals: Sequence[Mapping[str, Any]],
    handles: Mapping[uuid.UUID, str],
    owners: Mapping[uuid.UUID, uuid.UUID | None],
) -> list[NoticeDraft]:
    """Notices to the owners of the assets this clearance denied, and of those it waits for.
    An asset denied for its owner's standing decline, or for another request of this
    requester's waiting for them, tells them nothing new: no notice."""
    blocked = (
        NoticeDraft(
            owners[row["asset_id"]],
            NoticeKind.use_blocked,
            [row["asset_id"], clearance_id],
            {
                **blocked_facts(
                    asset_id=row["asset_id"],
                    handle=handles[row["asset_id"]],
                    found_in=FoundIn.request,
                ),
                "reasons": [reason["text"] for reason in row["reasons"]],
            },
        )
        for row in recorded
        if row["outcome"] == AssetOutcome.deny
        and owners.get(row["asset_id"]) is not None
        and not _asked_already(row)
    )
    pending = (
        NoticeDraft(
            approval["owner_id"],
            NoticeKind.approval_pending,
            [approval["asset_id"], approval["id"]],
            {
                "asset_id": str(approval["asset_id"]),
                "handle": handles[approval["asset_id"]],
                "approval_id": str(approval["id"]),
                "expires_at": approval["expires_at"].isoformat(),
            },
        )
        for approval in approvals
    )
    return [*blocked, *pending]
