"""The moderators' pages: face conflicts (one face enrolled by two accounts), the outputs the
output check blocked, and the claims to characters and styles waiting for verification.

Staff only (``PortalStaff``): these pages show who the parties are, their likenesses and the
faces' similarity, which nobody else may see. Conflicts are listed, read and decided with
the same service calls as the API's routes (likeness/api.py): ``conflicts.visible_conflicts``,
``visible_conflict`` and ``resolve_conflict``, so a moderator who is a party to a conflict
cannot decide it here either. Claims go through ``rights.claims.service`` as the API's
/v1/claims routes do: nobody decides their own, and a decision settles the held shares.
"""

import uuid
from collections.abc import Iterable
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.deps import ReadSessionDep, SessionDep
from clearhouse.pagination import PageParams
from clearhouse.portal.decisions import decide_from_form
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import (
    NOTICES,
    PageRoute,
    render,
    templates,
)
from clearhouse.portal.sessions import CsrfChecked, PortalStaff
from licensing.repository import flagged_outputs
from likeness import conflicts
from likeness.models import ConflictStatus, LikenessConflict
from likeness.runtime import LikenessDep
from likeness.schemas import ConflictResolution
from payouts.held import held_of_asset
from rights.claims import service as claims
from rights.claims.api import document_response
from rights.claims.models import ClaimStatus
from rights.claims.schemas import ClaimDecision
from rights.disputes import service as disputes
from rights.disputes.models import DisputeStatus
from rights.models import Asset
from rights.overlaps import service as overlaps
from rights.overlaps.models import OverlapStatus

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "conflict-accepted": "Claim accepted: the claimant's face is enrolled.",
        "conflict-rejected": "Claim rejected: the claimant's held templates were destroyed.",
        "claim-verified": "Claim verified: its held shares are paid into the holder's balance.",
        "claim-rejected": "Claim rejected: its held shares went back to the creators.",
    }
)


def evidence_words(evidence: dict) -> str:
    """One piece of what an output check matched (licensing.touches), in words: what kind of
    match, its score and where in the output. Fields this does not know are shown as they are."""
    shown = dict(evidence)
    words = [str(shown.pop("kind", "match"))]
    if isinstance(shown.get("score"), float):
        words.append(f"score {shown.pop('score'):.2f}")
    if isinstance(shown.get("input"), int):
        words.append(f"file {shown.pop('input') + 1}")
    if isinstance(shown.get("frame"), int):
        at = shown.pop("timestamp_s", None)
        when_seen = f" at {at:.1f} s" if isinstance(at, float | int) else ""
        words.append(f"frame {shown.pop('frame')}{when_seen}")
    shown.pop("box", None)  # pixel coordinates: no use to a reader
    words += [f"{key} {value}" for key, value in shown.items()]
    return ", ".join(words)


templates.env.filters["evidence"] = evidence_words

FILTERS = [("open", "Open"), ("accepted", "Accepted"), ("rejected", "Rejected"), ("all", "All")]


def _parties(
    session: Session, rows: Iterable[LikenessConflict]
) -> tuple[dict[uuid.UUID, Account], dict[uuid.UUID, Asset]]:
    """The accounts and likenesses of ``rows``, by id, in two queries."""
    rows = list(rows)
    account_ids = {c.claimant_id for c in rows} | {c.existing_owner_id for c in rows}
    asset_ids = {c.claimant_likeness_id for c in rows} | {c.existing_likeness_id for c in rows}
    accounts = session.exec(select(Account).where(col(Account.id).in_(account_ids))).all()
    assets = session.exec(select(Asset).where(col(Asset.id).in_(asset_ids))).all()
    return {a.id: a for a in accounts}, {a.id: a for a in assets}


@router.get("/review")
def review_home(request: Request, staff: PortalStaff, session: ReadSessionDep):
    open_conflicts = conflicts.visible_conflicts(
        session, viewer=staff, status=ConflictStatus.open, params=PageParams(limit=1, offset=0)
    )[1]
    flagged = flagged_outputs(session, params=PageParams(limit=1, offset=0))[1]
    open_overlaps = overlaps.visible_cases(
        session,
        viewer=staff,
        status=OverlapStatus.open,
        asset_id=None,
        params=PageParams(limit=1, offset=0),
    )[1]
    pending_claims = claims.claims_for_staff(
        session, status=ClaimStatus.pending, params=PageParams(limit=1, offset=0)
    )[1]
    answered_disputes = disputes.visible_disputes(
        session,
        viewer=staff,
        status=DisputeStatus.answered,
        asset_id=None,
        everyone=True,
        params=PageParams(limit=1, offset=0),
    )[1]
    return render(
        request,
        "review/home.html",
        account=staff,
        title="Review",
        open_conflicts=open_conflicts,
        flagged=flagged,
        open_overlaps=open_overlaps,
        pending_claims=pending_claims,
        answered_disputes=answered_disputes,
    )


@router.get("/review/conflicts")
def conflict_queue(
    request: Request,
    staff: PortalStaff,
    session: ReadSessionDep,
    show: Literal["open", "accepted", "rejected", "all"] = "open",
    page: Page = 1,
):
    status = None if show == "all" else ConflictStatus(show)
    rows, total = conflicts.visible_conflicts(
        session, viewer=staff, status=status, params=page_params(page)
    )
    accounts, assets = _parties(session, rows)
    return render(
        request,
        "review/conflicts.html",
        account=staff,
        title="Face conflicts",
        conflicts=rows,
        accounts=accounts,
        assets=assets,
        show=show,
        filters=FILTERS,
        pager=pager(request, page=page, total=total),
    )


def _conflict_page(
    request: Request,
    session: Session,
    staff: Account,
    conflict: LikenessConflict,
    *,
    status_code: int = 200,
    form: dict | None = None,
    errors: dict | None = None,
):
    accounts, assets = _parties(session, [conflict])
    return render(
        request,
        "review/conflict.html",
        account=staff,
        title="Face conflict",
        status_code=status_code,
        conflict=conflict,
        claimant=accounts[conflict.claimant_id],
        existing_owner=accounts[conflict.existing_owner_id],
        claimant_likeness=assets[conflict.claimant_likeness_id],
        existing_likeness=assets[conflict.existing_likeness_id],
        decider=accounts.get(conflict.resolved_by) if conflict.resolved_by else None,
        party=staff.id in (conflict.claimant_id, conflict.existing_owner_id),
        form=form or {},
        errors=errors or {},
    )


@router.get("/review/conflicts/{conflict_id}")
def conflict_page(
    request: Request, conflict_id: uuid.UUID, staff: PortalStaff, session: ReadSessionDep
):
    conflict = conflicts.visible_conflict(session, viewer=staff, conflict_id=conflict_id)
    return _conflict_page(request, session, staff, conflict)


@router.post("/review/conflicts/{conflict_id}/resolve", dependencies=[CsrfChecked])
def resolve_conflict(
    request: Request,
    conflict_id: uuid.UUID,
    staff: PortalStaff,
    session: SessionDep,
    runtime: LikenessDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
):
    """Accept or reject the claim, as POST /v1/likeness/conflicts/{id}/resolve does."""

    def page(**shown):
        conflict = conflicts.visible_conflict(session, viewer=staff, conflict_id=conflict_id)
        return _conflict_page(request, session, staff, conflict, **shown)

    def resolve(body: ConflictResolution) -> str:
        conflicts.resolve_conflict(
            session,
            moderator=staff,
            conflict_id=conflict_id,
            accept=body.decision == "accept",
            note=body.note,
            runtime=runtime,
        )
        return "conflict-accepted" if body.decision == "accept" else "conflict-rejected"

    return decide_from_form(
        form={"decision": decision, "note": note},
        body=lambda: ConflictResolution(decision=decision, note=note.strip() or None),
        choose="Choose whether to accept or to reject the claim.",
        decide=resolve,
        page=page,
        redirect=f"/review/conflicts/{conflict_id}",
    )


@router.get("/review/flagged")
def flagged_page(request: Request, staff: PortalStaff, session: ReadSessionDep, page: Page = 1):
    rows, total = flagged_outputs(session, params=page_params(page))
    owners = session.exec(
        select(Account).where(
            col(Account.id).in_({asset.owner_id for row in rows for _, asset in row.found})
        )
    ).all()
    return render(
        request,
        "review/flagged.html",
        account=staff,
        title="Flagged outputs",
        flagged=rows,
        owners={owner.id: owner for owner in owners},
        pager=pager(request, page=page, total=total),
    )


CLAIM_FILTERS = [
    ("pending", "Pending"),
    ("verified", "Verified"),
    ("rejected", "Rejected"),
    ("all", "All"),
]


@router.get("/review/claims")
def claim_queue(
    request: Request,
    staff: PortalStaff,
    session: ReadSessionDep,
    show: Literal["pending", "verified", "rejected", "all"] = "pending",
    page: Page = 1,
):
    views, total = claims.claims_for_staff(
        session,
        status=None if show == "all" else ClaimStatus(show),
        params=page_params(page),
    )
    return render(
        request,
        "review/claims.html",
        account=staff,
        title="Claims",
        claims=views,
        show=show,
        filters=CLAIM_FILTERS,
        pager=pager(request, page=page, total=total),
    )


def _claim_page(
    request: Request,
    session: Session,
    staff: Account,
    claim_id: uuid.UUID,
    *,
    status_code: int = 200,
    form: dict | None = None,
    errors: dict | None = None,
):
    view = claims.claim_for_staff(session, claim_id=claim_id)
    people = session.exec(
        select(Account).where(
            col(Account.id).in_({view.claim.owner_id, view.claim.decided_by} - {None})
        )
    ).all()
    by_id = {person.id: person for person in people}
    return render(
        request,
        "review/claim.html",
        account=staff,
        title=f"Claim to @{view.asset.handle}",
        status_code=status_code,
        view=view,
        holder=by_id[view.claim.owner_id],
        decider=by_id.get(view.claim.decided_by),
        held_minor=held_of_asset(session, asset_id=view.asset.id),
        party=staff.id == view.claim.owner_id,
        form=form or {},
        errors=errors or {},
    )


@router.get("/review/claims/{claim_id}")
def claim_page(request: Request, claim_id: uuid.UUID, staff: PortalStaff, session: ReadSessionDep):
    return _claim_page(request, session, staff, claim_id)


@router.get("/review/claims/{claim_id}/document")
def claim_document(claim_id: uuid.UUID, staff: PortalStaff, session: ReadSessionDep):
    """The evidence document, as the API's staff route gives it."""
    return document_response(claims.claim_for_staff(session, claim_id=claim_id))


@router.post("/review/claims/{claim_id}/decide", dependencies=[CsrfChecked])
def decide_claim(
    request: Request,
    claim_id: uuid.UUID,
    staff: PortalStaff,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
):
    """Verify or reject the claim, as POST /v1/claims/{id}/decision does."""

    def verify_or_reject(body: ClaimDecision) -> str:
        claims.decide_claim(
            session,
            staff=staff,
            claim_id=claim_id,
            verify=body.decision == "verify",
            reason=body.reason,
        )
        return "claim-verified" if body.decision == "verify" else "claim-rejected"

    return decide_from_form(
        form={"decision": decision, "reason": reason},
        body=lambda: ClaimDecision(decision=decision, reason=reason.strip()),
        choose="Choose whether to verify or to reject the claim.",
        decide=verify_or_reject,
        page=partial(_claim_page, request, session, staff, claim_id),
        redirect=f"/review/claims/{claim_id}",
    )
