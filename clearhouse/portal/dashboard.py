"""The dashboard: a holder's assets, active grants, this month's uses and earnings at a glance.

Everything on it is read with the owner's id in the query, as the API's routes read it.
"""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy import func
from sqlmodel import Session, select

from clearhouse.accounts.models import Account, Role
from clearhouse.db import utcnow
from clearhouse.deps import ReadSessionDep
from clearhouse.pagination import PageParams
from clearhouse.portal.pages import PageRoute, render
from clearhouse.portal.sessions import PortalAccount
from licensing.models import ClearedAsset
from payouts.statements import Period, Statement, holder_statements
from policies.decisions import AssetOutcome
from rights.models import Asset, ConsentGrant, GrantStatus
from rights.repository import list_owned_assets

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Bar:
    """One day of the earnings chart, laid out in the SVG's own units."""

    label: str
    earned_minor: int
    x: float
    height: float


CHART_WIDTH, CHART_HEIGHT = 620, 160


def earnings_bars(statement: Statement) -> list[Bar]:
    days = statement.earnings_by_day
    top = max((day.earned_minor for day in days), default=0) or 1
    step = CHART_WIDTH / max(len(days), 1)
    return [
        Bar(
            label=day.day.strftime("%d %b"),
            earned_minor=day.earned_minor,
            x=round(index * step, 1),
            height=round(max(day.earned_minor, 0) / top * CHART_HEIGHT, 1),
        )
        for index, day in enumerate(days)
    ]


def uses_this_month(session: Session, *, owner_id, period: Period) -> dict[str, int]:
    rows = session.exec(
        select(ClearedAsset.outcome, func.count())
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .where(Asset.owner_id == owner_id, ClearedAsset.created_at >= period.starts_at)
        .group_by(ClearedAsset.outcome)
    ).all()
    counts = {outcome.value: 0 for outcome in AssetOutcome}
    counts.update({outcome.value: count for outcome, count in rows})
    return counts


def active_grants(session: Session, *, owner_id) -> int:
    return session.exec(
        select(func.count())
        .select_from(ConsentGrant)
        .join(Asset, Asset.id == ConsentGrant.asset_id)
        .where(Asset.owner_id == owner_id, ConsentGrant.status == GrantStatus.active)
    ).one()


@router.get("/dashboard")
def dashboard(request: Request, account: PortalAccount, session: ReadSessionDep):
    if account.role not in (Role.holder, Role.admin):
        return render(request, "dashboard_other.html", account=account, title="Dashboard")
    return render(
        request, "dashboard.html", account=account, title="Dashboard", **_overview(session, account)
    )


def _overview(session: Session, account: Account) -> dict:
    period = Period.containing(utcnow())
    assets, asset_count = list_owned_assets(
        session, owner_id=account.id, kind=None, params=PageParams(limit=6, offset=0)
    )
    statements = holder_statements(session, holder_id=account.id, period=period)
    return {
        "assets": assets,
        "asset_count": asset_count,
        "active_grants": active_grants(session, owner_id=account.id),
        "uses": uses_this_month(session, owner_id=account.id, period=period),
        "period": period,
        "statements": [(statement, earnings_bars(statement)) for statement in statements],
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
    }
