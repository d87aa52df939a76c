"""An overlap case as its viewer may see it: each owner their own side and the other asset's
public handle; moderators everything."""

from clearhouse.accounts.models import Account
from rights.models import Asset
from rights.overlaps.models import OverlapCase, OverlapStatus
from rights.overlaps.schemas import OverlapCasePublic
from rights.protected.models import ProtectedEntry


def other_side(case: OverlapCase, assets: dict, entries: dict, *, viewer: Account) -> str:
    """The other side in words, for ``viewer``: "@handle" or "“Name”, a protected character"."""
    if case.protected_entry_id is not None:
        entry: ProtectedEntry = entries[case.protected_entry_id]
        return f"“{entry.name}”, a protected {entry.kind.value}"
    other_id = (
        case.claimant_asset_id if viewer.id == case.existing_owner_id else case.existing_asset_id
    )
    return f"@{assets[other_id].handle}"


def explanation(case: OverlapCase, assets: dict, entries: dict, *, viewer: Account) -> str:
    other = other_side(case, assets, entries, viewer=viewer)
    kinds = ", ".join(sorted({item["kind"].replace("_", " ") for item in case.evidence}))
    if viewer.id == case.existing_owner_id:
        opened = f"A newer asset, {other}, overlaps yours ({kinds})."
        outcome = {
            OverlapStatus.open: "Yours stays active while moderators decide.",
            OverlapStatus.existing_kept: "Moderators kept yours; the newer one is inactive.",
            OverlapStatus.claimant_upheld: "Moderators decided the newer one's holder is the "
            "rightful one: yours is inactive and its grants were revoked.",
        }
    else:
        opened = f"It overlaps {other} ({kinds})."
        outcome = {
            OverlapStatus.open: "Until moderators decide, it cannot be granted, licensed or earn.",
            OverlapStatus.existing_kept: "Moderators decided it belongs to the earlier holder: "
            "it stays inactive.",
            OverlapStatus.claimant_upheld: "Moderators decided you are the rightful holder: it "
            "is active.",
        }
    return f"{opened} {outcome[case.status]}"


def case_public(
    case: OverlapCase,
    *,
    viewer: Account,
    assets: dict[object, Asset],
    entries: dict[object, ProtectedEntry],
) -> OverlapCasePublic:
    side = other_side(case, assets, entries, viewer=viewer)
    protected = case.protected_entry_id is not None
    base = {
        "id": case.id,
        "status": case.status,
        "overlaps_by": sorted({item["kind"] for item in case.evidence}),
        "protected_entry": side if protected else None,
        "created_at": case.created_at,
        "resolved_at": case.resolved_at,
        "resolution_note": case.resolution_note,
    }
    if viewer.id in (case.claimant_id, case.existing_owner_id):
        claimant = viewer.id == case.claimant_id
        return OverlapCasePublic(
            **base,
            your_part="claimant" if claimant else "existing_owner",
            your_asset_id=case.claimant_asset_id if claimant else case.existing_asset_id,
            other_handle=None if protected else side.removeprefix("@"),
            explanation=explanation(case, assets, entries, viewer=viewer),
        )
    return OverlapCasePublic(
        **base,
        your_part="moderator",
        your_asset_id=None,
        other_handle=None,
        explanation=f"@{assets[case.claimant_asset_id].handle} overlaps {side}.",
        claimant_asset_id=case.claimant_asset_id,
        existing_asset_id=case.existing_asset_id,
        protected_entry_id=case.protected_entry_id,
        evidence=case.evidence,
    )
