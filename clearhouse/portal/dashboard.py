"""The dashboard: a holder's assets, active grants, this month's uses and earnings at a glance.

Everything on it is read with the owner's id in the query, as the API's routes read it.
"""

from fastapi import APIRouter, Request
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from clearhouse.accounts.models import Account, Role
from clearhouse.db import snapshot_session, utcnow
from clearhouse.deps import EngineDep, ReadSessionDep
from clearhouse.pagination import PageParams
from clearhouse.portal.charts import earnings_chart
from clearhouse.portal.pages import PageRoute, render
from clearhouse.portal.sessions import PortalAccount
from licensing.models import ClearedAsset
from payouts.statements import Period, holder_statements
from policies.decisions import AssetOutcome
from rights.models import Asset, ConsentGrant, GrantStatus
from rights.repository import list_owned_assets

router = APIRouter(route_class=PageRoute, include_in_schema=False)


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
def dashboard(request: Request, account: PortalAccount, session: ReadSessionDep, engine: EngineDep):
    if account.role not in (Role.holder, Role.admin):
        return render(request, "dashboard_other.html", account=account, title="Dashboard")
    return render(
        request,
        "dashboard.html",
        account=account,
        title="Dashboard",
        **_overview(session, engine, account),
    )


def _overview(session: Session, engine: Engine, account: Account) -> dict:
    period = Period.containing(utcnow())
    assets, asset_count = list_owned_assets(
        session, owner_id=account.id, kind=None, params=PageParams(limit=6, offset=0)
    )
    # A statement's opening balance, lines and closing balance must see the same postings:
    # the request's read session reads each statement on its own (PostgreSQL autocommit), so a
    # release landing in between would fail the statement's check (StatementMismatch, a 500).
    with snapshot_session(engine) as snapshot:
        statements = holder_statements(snapshot, holder_id=account.id, period=period)
    return {
        "assets": assets,
        "asset_count": asset_count,
        "active_grants": active_grants(session, owner_id=account.id),
        "uses": uses_this_month(session, owner_id=account.id, period=period),
        "period": period,
        "statements": [(statement, earnings_chart(statement)) for statement in statements],
    }
