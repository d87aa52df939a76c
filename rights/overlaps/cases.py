"""Finding what a character or style overlaps, and opening a case for each overlap.

An asset overlaps another holder's live, active character or style, or a protected entry,
when one of its names or aliases folds to the same skeleton as one of theirs (the folding
the IP text check reads prompts with), when the IP text check would take its description,
read as a prompt, for a description of the other (the matcher's own thresholds), or when one
of its reference pictures matches one of theirs (rights/references/service.py calls
`open_cases` with that evidence). Each overlap is a case for moderators; the asset stays in
review, neither granted nor matched nor licensed, until they decide.

Both checks read the in-memory catalogues, brought up to date first, not the database: the
same answer a clearance would give, at the cost of one refresh.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from audit.service import record_event
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from rights.errors import AssetNotActive
from rights.matching import store
from rights.matching.folding import fold_prompt
from rights.matching.reading import PromptReading
from rights.matching.runtime import MatchingRuntime
from rights.matching.types import MatchKind
from rights.models import Asset, AssetKind, AssetStanding
from rights.overlaps.models import OverlapCase, OverlapStatus
from rights.protected.models import ProtectedEntry

#: Kinds that overlap by name and description; a face overlaps by the face (likeness/).
CHECKED_KINDS = (AssetKind.character, AssetKind.style)

Evidence = dict[uuid.UUID, list[dict]]


@dataclass(frozen=True)
class Overlap:
    """An earlier asset of another holder, or a protected entry, and what overlaps it."""

    existing: Asset | None
    entry: ProtectedEntry | None
    evidence: list[dict]


def hold_catalogue(session: Session, *, asset: Asset, matching: MatchingRuntime) -> None:
    """Take the text catalogue's change lock until the commit, so registrations of one name
    are checked one after the other, and bring this process's catalogue up to date.

    Call it before the asset's change is written: a refresh after it would load the
    uncommitted change (and embed its new texts inside the write transaction)."""
    if asset.kind not in CHECKED_KINDS:
        return
    store.lock_changes(session)
    matching.refresh(session, read_counter=True)


def find_overlaps(
    session: Session,
    *,
    asset: Asset,
    matching: MatchingRuntime,
    vectors: store.TextVectors | None,
    names: bool = True,
) -> list[Overlap]:
    """What ``asset`` (being registered or changed, not yet stamped) overlaps, in the
    catalogue `hold_catalogue` brought up to date.

    ``vectors``: the embeddings of the texts being set (its description among them, when it
    is); without its description's, the description is not compared. ``names``: whether its
    names and aliases are being set."""
    if asset.kind not in CHECKED_KINDS:
        return []
    evidence: Evidence = {}
    if names:
        _same_names(matching, asset, evidence)
    description = asset.description.strip()
    vector = vectors.by_text.get(store.text_key(description)) if vectors and description else None
    if vector is not None:
        reading = PromptReading(text=description, folded=fold_prompt(description), embedding=vector)
        for match in matching.matcher.match_reading(reading):
            if match.kind == MatchKind.description:
                evidence.setdefault(match.asset_id, []).append(
                    {"kind": "description", "score": round(match.score, 4)}
                )
    evidence.pop(asset.id, None)
    return overlaps_of(session, asset=asset, evidence=evidence)


def _same_names(matching: MatchingRuntime, asset: Asset, evidence: Evidence) -> None:
    catalogue = matching.catalogue
    written = [("name", asset.name), *(("alias", alias) for alias in asset.aliases)]
    with catalogue.reading():
        for kind, surface in written:
            for pattern in catalogue.names.holders(surface):
                found = evidence.setdefault(pattern.asset_id, [])
                if not any(item.get("text") == surface for item in found):
                    found.append({"kind": kind, "text": surface, "theirs": pattern.surface})


def overlaps_of(session: Session, *, asset: Asset, evidence: Mapping[uuid.UUID, list[dict]]):
    """The overlaps that count among ``evidence`` (by the other asset's or entry's id): another
    holder's live, active character or style, or a listed protected entry."""
    ids = list(evidence)
    if not ids:
        return []
    others = session.exec(
        select(Asset).where(
            col(Asset.id).in_(ids),
            Asset.owner_id != asset.owner_id,
            col(Asset.deleted_at).is_(None),
            Asset.standing == AssetStanding.active,
            col(Asset.kind).in_(CHECKED_KINDS),
        )
    ).all()
    entries = session.exec(
        select(ProtectedEntry).where(
            col(ProtectedEntry.id).in_(ids),
            col(ProtectedEntry.deleted_at).is_(None),
            col(ProtectedEntry.retired_at).is_(None),
        )
    ).all()
    return [
        Overlap(existing=other, entry=None, evidence=evidence[other.id]) for other in others
    ] + [Overlap(existing=None, entry=entry, evidence=evidence[entry.id]) for entry in entries]


def open_cases(
    session: Session, *, asset: Asset, overlaps: Iterable[Overlap], actor_id: uuid.UUID
) -> list[OverlapCase]:
    """A case for each overlap not already open for this asset; the asset goes into review
    (an inactive one stays inactive). The caller stamps the asset's catalogue change."""
    already = set(
        session.exec(
            select(OverlapCase.existing_asset_id, OverlapCase.protected_entry_id).where(
                OverlapCase.claimant_asset_id == asset.id,
                OverlapCase.status == OverlapStatus.open,
            )
        ).all()
    )
    cases = []
    for overlap in overlaps:
        existing = overlap.existing
        key = (existing.id if existing else None, overlap.entry.id if overlap.entry else None)
        if key in already:
            continue
        case = OverlapCase(
            claimant_asset_id=asset.id,
            claimant_id=asset.owner_id,
            existing_asset_id=key[0],
            existing_owner_id=existing.owner_id if existing else None,
            protected_entry_id=key[1],
            evidence=overlap.evidence,
            status=OverlapStatus.open,
        )
        session.add(case)
        cases.append(case)
    if not cases:
        return []
    if asset.standing == AssetStanding.active:
        asset.standing = AssetStanding.in_review
        session.add(asset)
    session.flush()
    for case in cases:
        record_event(
            session,
            action="overlap.opened",
            actor_id=actor_id,
            asset_id=asset.id,
            details={
                "case_id": str(case.id),
                "existing_asset_id": str(case.existing_asset_id)
                if case.existing_asset_id
                else None,
                "protected_entry_id": (
                    str(case.protected_entry_id) if case.protected_entry_id else None
                ),
                "overlaps_by": sorted({item["kind"] for item in case.evidence}),
            },
        )
    notify_all(session, [draft for case in cases for draft in case_notices(case, opened=True)])
    return cases


def case_notices(case: OverlapCase, *, opened: bool) -> list[NoticeDraft]:
    """The notices of a case opened or decided, to each holder in it, about their own asset
    only: the case's id and where it stands (the other side reads it at GET /v1/overlaps)."""
    kind = NoticeKind.overlap_opened if opened else NoticeKind.overlap_decided
    facts = {"case_id": str(case.id), "status": case.status.value}
    sides = [(case.claimant_id, case.claimant_asset_id)]
    if case.existing_owner_id is not None:
        sides.append((case.existing_owner_id, case.existing_asset_id))
    return [
        NoticeDraft(owner_id, kind, [case.id, asset_id], {**facts, "asset_id": str(asset_id)})
        for owner_id, asset_id in sides
    ]


def check_grantable(session: Session, asset: Asset) -> None:
    """Refuse a grant of an asset in review or decided against, saying why and what next.

    Read again under a shared lock on the asset's row: a moderator's decision locks it for
    update, so a grant either comes before the decision (and is revoked by it) or sees it."""
    standing = session.exec(
        select(Asset.standing).where(Asset.id == asset.id).with_for_update(read=True)
    ).one()
    if standing == AssetStanding.active:
        return
    case_id = session.exec(
        select(OverlapCase.id)
        .where(OverlapCase.claimant_asset_id == asset.id)
        .order_by(col(OverlapCase.created_at).desc())
    ).first()
    where = f" (case {case_id}: GET /v1/overlaps/{case_id})" if case_id else ""
    if standing == AssetStanding.disputed:
        raise AssetNotActive(
            "Staff upheld a dispute about this asset (GET /v1/disputes?asset_id=...); it cannot "
            "be granted or licensed."
        )
    if standing == AssetStanding.in_review:
        raise AssetNotActive(
            "This asset overlaps another holder's character or style, or a protected entry, "
            f"and moderators are reviewing it{where}; it cannot be granted or licensed until "
            "they decide."
        )
    raise AssetNotActive(
        f"Moderators decided that what this asset names belongs to another holder{where}; it "
        "cannot be granted or licensed."
    )
