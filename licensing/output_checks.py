"""The output check: a cleared request's generated frames, looked at again before release.

Every registered asset the output shows (a face in the likeness index, a character's or
style's reference picture) that its clearance did not allow, nor a licence its owner offered
for an earlier blocked output of it and the requester accepted (licensing/offers/), blocks
the release. Each such
asset is recorded against the clearance (``found_in`` output, denied), so that its owner
sees the attempt among their asset's usage; each check is recorded with its verdict. The
prompt is not checked again: it was, when the request was cleared.

A third-party generator's clearance (one our generator does not run) is released, licensed
and charged by its first check that allows release, in that check's transaction
(licensing/third_party_release.py): a consent withdrawn since the clearance blocks it instead,
and the answer says what was charged. Our generator's release charges its own
(generator/release.py).

Only the requester checks their clearance's output (anyone else's is not found), and only a
cleared one. The media are decoded in a media worker and searched in a read transaction,
outside the short write transaction that records the check.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.db import read_session, write_session
from licensing import presentation
from licensing.clearance import blocked_facts, evidence_by_asset
from licensing.errors import ClearanceNotCleared
from licensing.facts import read_facts
from licensing.models import Clearance, ClearedAsset, FoundIn, OutputCheck, OutputVerdict
from licensing.offers.repository import offered_assets
from licensing.repository import requesters_clearance
from licensing.schemas import OutputChargePublic, OutputCheckPublic
from licensing.third_party_release import (
    ThirdPartyRelease,
    lock_clearance,
    release_for_third_party,
    released_by_third_party,
)
from licensing.touches import inspect_uploads, media_sha256, media_touches
from likeness.runtime import LikenessRuntime
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from policies.decisions import AssetOutcome, ClearanceOutcome, Reason, ReasonCode
from policies.evaluator import disclosed_to
from rights.models import Asset
from rights.references.catalogue import ReferenceCatalogue

NOT_COVERED = Reason(ReasonCode.not_covered, "Found in the output; the clearance did not cover it.")
COVERED = "Covered by the clearance."


def check_output(
    engine: Engine,
    *,
    requester: Account,
    clearance_id: uuid.UUID,
    uploads: list[bytes],
    likeness: LikenessRuntime,
    catalogue: ReferenceCatalogue,
    now: datetime,
    ours: bool = False,
) -> OutputCheckPublic:
    """Check the generated ``uploads`` (frames or a video) against the requester's cleared
    clearance and record the verdict (``ours``: the generator's own frames, inspected as
    :func:`licensing.touches.inspect_uploads` says). Raises NotFound, ClearanceNotCleared, and
    the media errors of :func:`licensing.touches.inspect_uploads`."""
    with read_session(engine) as session:
        _cleared_clearance(session, requester_id=requester.id, clearance_id=clearance_id)
    inspection = inspect_uploads(uploads, likeness=likeness, catalogue=catalogue, ours=ours)
    with read_session(engine) as session:
        touches = media_touches(
            session, inspection=inspection, likeness=likeness, catalogue=catalogue
        )
    evidence = evidence_by_asset(touches)
    with write_session(engine) as session:
        clearance = _cleared_clearance(
            session, requester_id=requester.id, clearance_id=clearance_id
        )
        lock_clearance(session, clearance_id=clearance.id)
        covered = _covered(session, clearance_id=clearance.id, found=evidence.keys())
        uncovered = read_facts(
            session,
            requester=requester,
            asset_ids=[asset_id for asset_id in evidence if asset_id not in covered],
            request_digest=clearance.request_digest,
            now=now,
        ).assets
        released = ThirdPartyRelease()
        if not uncovered and released_by_third_party(session, clearance=clearance):
            released = release_for_third_party(session, clearance=clearance, now=now)
        check = OutputCheck(
            clearance_id=clearance.id,
            verdict=OutputVerdict.release_blocked
            if uncovered or released.withheld
            else OutputVerdict.release_allowed,
            input_media_sha256=media_sha256(uploads),
            frames_checked=inspection.frames,
            created_at=now,
        )
        session.add(check)
        session.flush()
        today = now.astimezone(UTC).date()
        blocked = [
            ClearedAsset(
                clearance_id=clearance.id,
                asset_id=asset.id,
                outcome=AssetOutcome.deny,
                found_in=FoundIn.output,
                reasons=[{"code": NOT_COVERED.code.value, "text": NOT_COVERED.text}],
                matched_by=evidence[asset.id],
                disclosed=disclosed_to(asset, requester_id=requester.id, today=today),
                output_check_id=check.id,
                created_at=now,
            )
            for asset in uncovered
        ]
        session.add_all(blocked)
        # The owners learn of the blocked output; the requester learns nothing more of them.
        notify_all(
            session,
            (
                NoticeDraft(
                    asset.owner_id,
                    NoticeKind.use_blocked,
                    [asset.id, clearance.id],
                    blocked_facts(asset_id=asset.id, handle=asset.handle, found_in=FoundIn.output),
                )
                for asset in uncovered
                if asset.owner_id is not None
            ),
            now=now,
        )
    return OutputCheckPublic(
        id=check.id,
        clearance_id=clearance_id,
        verdict=check.verdict,
        reasons=list(released.withheld) or _verdict_reasons(blocked),
        charged=OutputChargePublic(
            amount_minor=released.charge.amount_minor, currency=released.charge.currency
        )
        if released.charge is not None
        else None,
        found=[
            presentation.touched_asset(
                asset_id=asset.id,
                handle=asset.handle,
                kind=asset.kind.value,
                outcome=AssetOutcome.allow,
                reasons=[COVERED],
                matched_by=evidence[asset.id],
                disclosed=disclosed,
                approval=None,
            )
            for disclosed, asset in covered.values()
        ]
        + [
            presentation.touched_asset(
                asset_id=row.asset_id,
                handle=asset.handle,
                kind=asset.kind.value,
                outcome=row.outcome,
                reasons=[NOT_COVERED.text],
                matched_by=row.matched_by,
                disclosed=row.disclosed,
                approval=None,
            )
            for row, asset in zip(blocked, uncovered, strict=True)
        ],
        input_media_sha256=check.input_media_sha256,
        frames_checked=check.frames_checked,
        checked_at=check.created_at,
    )


def _cleared_clearance(
    session: Session, *, requester_id: uuid.UUID, clearance_id: uuid.UUID
) -> Clearance:
    clearance = requesters_clearance(session, requester_id=requester_id, clearance_id=clearance_id)
    if clearance.outcome != ClearanceOutcome.cleared:
        state = (
            "it was denied"
            if clearance.outcome == ClearanceOutcome.denied
            else "it waits for an owner's approval"
        )
        raise ClearanceNotCleared(
            f"This request was not cleared ({state}): nothing may be generated from it, so "
            "there is no output to check. Check the output of a cleared request."
        )
    return clearance


def _covered(
    session: Session, *, clearance_id: uuid.UUID, found: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[bool, Asset]]:
    """The found assets that the clearance allowed, or that an accepted licence offer covers
    (licensing/offers/), each with whether the requester may be told which it is (an owner
    who offered a licence told them)."""
    offered = offered_assets(session, clearance_id=clearance_id, found=found)
    covered = {
        asset.id: (True, asset)
        for asset in session.exec(select(Asset).where(col(Asset.id).in_(list(offered)))).all()
    }
    rows = session.exec(
        select(ClearedAsset, Asset)
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .where(
            ClearedAsset.clearance_id == clearance_id,
            ClearedAsset.found_in == FoundIn.request,
            ClearedAsset.outcome == AssetOutcome.allow,
            col(ClearedAsset.asset_id).in_(list(found)),
        )
    ).all()
    return covered | {cleared.asset_id: (cleared.disclosed, asset) for cleared, asset in rows}


def _verdict_reasons(blocked: Sequence[ClearedAsset]) -> list[str]:
    if not blocked:
        return [
            "Release allowed: the output shows nothing registered that the clearance does not "
            "cover."
        ]
    what = "1 registered asset" if len(blocked) == 1 else f"{len(blocked)} registered assets"
    them = "it" if len(blocked) == 1 else "them"
    return [
        f"Release blocked: the output shows {what} that the clearance does not cover (in "
        f"`found`). Generate again without {them}, or clear a request that covers {them}."
    ]
