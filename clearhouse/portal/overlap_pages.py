"""The moderators' overlap cases: a character or style registered (or edited) into overlap
with another holder's, or with a protected entry, waits here for a decision.

Staff only (``PortalStaff``). Listed, read and decided with the same service calls as the
API's routes (rights/overlaps/api.py), so a moderator who owns one of the assets cannot
decide the case here either. Owners see their side of a case on their asset's page.
"""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.deps import KeysDep, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.portal.decisions import decide_from_form
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, render
from clearhouse.portal.sessions import CsrfChecked, PortalStaff
from rights.overlaps import service
from rights.overlaps.models import OverlapCase, OverlapStatus
from rights.overlaps.schemas import OverlapDecision

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "overlap-existing_kept": "Decided: the earlier holder keeps it; the newer asset is "
        "inactive.",
        "overlap-claimant_upheld": "Decided: the newer holder's asset is active; the earlier "
        "one is inactive and its grants were revoked (or the protected entry retired).",
    }
)

FILTERS = [
    ("open", "Open"),
    ("existing_kept", "Earlier kept"),
    ("claimant_upheld", "Newer upheld"),
    ("all", "All"),
]
Shown = Literal["open", "existing_kept", "claimant_upheld", "all"]


def _owners(session: Session, cases: list[OverlapCase]) -> dict[uuid.UUID, Account]:
    ids = {c.claimant_id for c in cases} | {c.existing_owner_id for c in cases}
    ids |= {c.resolved_by for c in cases}
    ids.discard(None)
    return {a.id: a for a in session.exec(select(Account).where(col(Account.id).in_(ids))).all()}


@router.get("/review/overlaps")
def overlap_queue(
    request: Request,
    staff: PortalStaff,
    session: ReadSessionDep,
    show: Shown = "open",
    page: Page = 1,
):
    status = None if show == "all" else OverlapStatus(show)
    rows, total = service.visible_cases(
        session, viewer=staff, status=status, asset_id=None, params=page_params(page)
    )
    assets, entries = service.case_parties(session, rows)
    return render(
        request,
        "review/overlaps.html",
        account=staff,
        title="Overlap cases",
        cases=rows,
        assets=assets,
        entries=entries,
        owners=_owners(session, rows),
        show=show,
        filters=FILTERS,
        pager=pager(request, page=page, total=total),
    )


def _case_page(
    request: Request,
    session: Session,
    staff: Account,
    case: OverlapCase,
    *,
    status_code: int = 200,
    form: dict | None = None,
    errors: dict | None = None,
):
    assets, entries = service.case_parties(session, [case])
    return render(
        request,
        "review/overlap.html",
        account=staff,
        title="Overlap case",
        status_code=status_code,
        case=case,
        assets=assets,
        entry=entries.get(case.protected_entry_id),
        owners=_owners(session, [case]),
        party=staff.id in (case.claimant_id, case.existing_owner_id),
        form=form or {},
        errors=errors or {},
    )


@router.get("/review/overlaps/{case_id}")
def overlap_page(request: Request, case_id: uuid.UUID, staff: PortalStaff, session: ReadSessionDep):
    return _case_page(
        request, session, staff, service.visible_case(session, viewer=staff, case_id=case_id)
    )


@router.post("/review/overlaps/{case_id}/decide", dependencies=[CsrfChecked])
def decide_overlap(
    request: Request,
    case_id: uuid.UUID,
    staff: PortalStaff,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
):
    """Keep the earlier holder or uphold the newer, as POST /v1/overlaps/{id}/decide does."""

    def page(**shown):
        case = service.visible_case(session, viewer=staff, case_id=case_id)
        return _case_page(request, session, staff, case, **shown)

    def keep_or_uphold(body: OverlapDecision) -> str:
        case = service.decide_case(
            session,
            moderator=staff,
            case_id=case_id,
            uphold_claimant=body.decision == "uphold_claimant",
            note=body.note,
            settings=settings,
            keys=keys,
        )
        return f"overlap-{case.status.value}"

    return decide_from_form(
        form={"decision": decision, "note": note},
        body=lambda: OverlapDecision(decision=decision, note=note.strip() or None),
        choose="Choose whether the earlier holder keeps it or the newer one.",
        decide=keep_or_uphold,
        page=page,
        redirect=f"/review/overlaps/{case_id}",
    )
