"""The audit log of the holder's assets, newest first and in words, each entry checked
against its own hash; a signed checkpoint of the latest entry to keep, and its check later;
an organisation's log for its members.

The entries are those the API shows (``audit.reading``: the holder's assets', deleted ones
included, and their agents' changes; one asset's the holder may see; an organisation's),
without their place in the log nor the link to the entry before, which may be another
holder's. Checking the whole chain is for admins; a holder's proof is the checkpoint.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from audit import reading, service
from audit.models import AuditEntry
from clearhouse.accounts.models import Account
from clearhouse.deps import KeysDep, ReadSessionDep, SettingsDep
from clearhouse.errors import InvalidRequest
from clearhouse.pagination import PageParams
from clearhouse.portal import audit_actors
from clearhouse.portal.listing import Page, identifier, page_params, pager
from clearhouse.portal.pages import PageRoute, render
from clearhouse.portal.sessions import CsrfChecked, PortalAccount, PortalHolder
from clearhouse.rate_limit import RateLimiterDep
from rights import members
from rights.authority import Action
from rights.models import Asset
from rights.repository import get_owned_asset, list_owned_assets

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class EventView:
    at: datetime | None
    sentence: str
    by: str
    asset: str | None
    receipt_id: str | None
    hash: str
    intact: bool


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def describe(action: str, details: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """One entry in a sentence a holder reads; an action not named here reads as itself.
    ``names``: the accounts it may name, as the reader knows them (audit_actors.labels)."""
    names = names or {}
    if action == "asset.created":
        return f"Registered the {details.get('kind', 'asset')} @{details.get('handle', '')}."
    if action == "asset.updated":
        changed = ", ".join(key.replace("_", " ") for key in details) or "nothing"
        return f"Changed the asset's {changed}."
    if action == "asset.deleted":
        return "Deleted the asset, after withdrawing its grants."
    if action == "policy.version_created":
        return f"Set policy version {details.get('version')}."
    if action == "grant.created":
        return f"Consented under policy version {details.get('policy_version')}; receipt issued."
    if action == "grant.revoked":
        taken_down = len(details.get("generations_taken_down") or [])
        reason = f" (“{details['reason']}”)" if details.get("reason") else ""
        return (
            f"Withdrew consent{reason}; receipt issued; "
            f"{_count(taken_down, 'released clip', 'released clips')} taken down."
        )
    if action in ("use.approved", "use.declined"):
        return f"{action.removeprefix('use.').capitalize()} a request to use the asset."
    if action == "reference_image.added":
        return "Added a reference picture."
    if action == "reference_image.removed":
        return "Removed a reference picture."
    if action == "likeness.enrolled":
        return "Enrolled the face."
    if action == "likeness.conflict_opened":
        return "The face matched another account's: a moderator reviews it."
    if action.startswith("likeness.conflict_"):
        return f"A moderator {action.removeprefix('likeness.conflict_')} the face conflict."
    if action == "likeness.templates_destroyed":
        return "Destroyed the face templates and their key."
    if action == "likeness.found_by_staff_scan":
        return "A moderator's face scan found this face."
    return _describe_account_event(action, details, names)


def _describe_account_event(action: str, details: dict[str, Any], names: dict[str, str]) -> str:
    """An organisation's or a person's own change; the member or agent it names, by name."""
    who = names.get(str(details.get("member_id") or details.get("agent_id")), "an account")
    who = "you" if who == "You" else who
    role = details.get("role") or details.get("after")
    if action == "organisation.created":
        return f"Created the organisation {details.get('name', '')}."
    if action == "organisation.member_added":
        return f"Added {who} as {role}."
    if action == "organisation.role_changed":
        return f"Changed the role of {who} from {details.get('before')} to {role}."
    if action == "organisation.member_removed":
        return f"Removed {who} ({role})."
    if action == "organisation.payout_account_created":
        return "Opened the organisation's payout account with Stripe."
    if action == "agent.authorised":
        return f"Authorised {who} as an agent: they manage the likenesses, never consent."
    if action == "agent.removed":
        return f"Removed {who} as an agent."
    return action.replace(".", ": ").replace("_", " ").capitalize() + "."


def _views(
    session: Session, *, reader: Account, holder_id: uuid.UUID, entries: list[AuditEntry]
) -> list[EventView]:
    names = audit_actors.labels(session, reader=reader, holder_id=holder_id, entries=entries)
    handles = _handles(session, entries)
    return [_view(entry, names, handles) for entry in entries]


def _handles(session: Session, entries: list[AuditEntry]) -> dict[str, str]:
    """The live assets' handles the entries name; a deleted asset's handle may be another's."""
    ids = {entry.asset_id for entry in entries if entry.asset_id is not None}
    live = session.exec(
        select(Asset.id, Asset.handle).where(col(Asset.id).in_(ids), Asset.deleted_at.is_(None))
    ).all()
    return {str(asset_id): f"@{handle}" for asset_id, handle in live}


def _view(entry: AuditEntry, names: dict[str, str], handles: dict[str, str]) -> EventView:
    body = entry.body
    details = body.get("details") or {}
    actor = body.get("actor_id")
    asset_id = body.get("asset_id")
    return EventView(
        at=datetime.fromisoformat(body["at"]) if body.get("at") else None,
        sentence=describe(entry.action, details, names),
        by="Clearhouse" if actor is None else names.get(actor, "Another account"),
        asset=handles.get(asset_id, "a deleted asset") if asset_id else None,
        receipt_id=details.get("receipt_id"),
        hash=entry.hash,
        intact=service.entry_intact(entry),
    )


@router.get("/audit")
def audit_page(
    request: Request,
    account: PortalHolder,
    session: ReadSessionDep,
    asset: str = "",
    page: Page = 1,
):
    """The holder's log; with ``asset``, one asset's they may see (theirs, their
    organisation's, their principal's likeness), as ``GET /v1/assets/{id}/audit`` reads it."""
    asset_id = identifier(asset, name="asset")
    if asset_id is None:
        holder_id, query = account.id, reading.owner_entries(account.id)
    else:
        shown = get_owned_asset(
            session,
            account_id=account.id,
            asset_id=asset_id,
            include_deleted=True,
            action=Action.view,
        )
        holder_id, query = shown.owner_id, reading.asset_entries(shown)
    entries, total = reading.list_entries(
        session, query, newest_first=True, params=page_params(page)
    )
    assets, _ = list_owned_assets(
        session, owner_id=account.id, kind=None, params=PageParams(limit=100, offset=0)
    )
    return render(
        request,
        "audit/log.html",
        account=account,
        title="Audit log",
        events=_views(session, reader=account, holder_id=holder_id, entries=entries),
        assets=assets,
        filters={"asset": asset},
        pager=pager(request, page=page, total=total),
    )


@router.get("/organisations/{organisation_id}/audit")
def organisation_audit_page(
    request: Request,
    organisation_id: uuid.UUID,
    account: PortalAccount,
    session: ReadSessionDep,
    page: Page = 1,
):
    """The organisation's log (``GET /v1/organisations/{id}/audit``), newest first, for its
    members in every role; anyone else gets the 404 page."""
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.view
    )
    entries, total = reading.list_entries(
        session,
        reading.organisation_entries(organisation.id),
        newest_first=True,
        params=page_params(page),
    )
    return render(
        request,
        "audit/organisation.html",
        account=account,
        title=f"Audit log: {organisation.name}",
        organisation=organisation,
        events=_views(session, reader=account, holder_id=organisation.id, entries=entries),
        pager=pager(request, page=page, total=total),
    )


@router.get("/audit/checkpoint")
def download_checkpoint(
    account: PortalHolder, session: ReadSessionDep, settings: SettingsDep, keys: KeysDep
):
    """The holder's latest entry, signed (``GET /v1/audit/checkpoint``), as a file to keep."""
    signed = service.sign_checkpoint(session, owner=account, settings=settings, keys=keys)
    name = f"clearhouse-audit-{signed.hash[:12]}.jws"
    return Response(
        signed.token,
        media_type="application/jose",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/audit/checkpoint/verify", dependencies=[CsrfChecked])
def verify_checkpoint(
    request: Request,
    account: PortalHolder,
    session: ReadSessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    limiter: RateLimiterDep,
    token: Annotated[str, Form(max_length=20_000)] = "",
):
    if not token.strip():
        raise InvalidRequest("Paste the checkpoint you kept (the text of its .jws file).")
    limiter.limit_checkpoint_verify(account_id=account.id)
    report = service.check_checkpoint(
        session, owner=account, token=token.strip(), settings=settings, keys=keys
    )
    return render(
        request, "audit/checkpoint.html", account=account, title="Checkpoint", report=report
    )
