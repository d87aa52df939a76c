"""Setting and reading an asset's policy versions."""

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import InvalidRequest, NotFound
from clearhouse.pagination import PageParams, paginate
from policies.document import Audience, PolicyDocument
from policies.models import PolicyVersion
from policies.protections import check_minors_likeness, with_likeness_protections
from rights.models import Asset, ConsentGrant, GrantStatus


def current_policy(session: Session, asset_id: uuid.UUID) -> PolicyVersion | None:
    """The version in force (the highest), or None: then nobody may use the asset."""
    return session.exec(
        select(PolicyVersion)
        .where(PolicyVersion.asset_id == asset_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    ).first()


def policy_version(session: Session, *, asset_id: uuid.UUID, version: int) -> PolicyVersion:
    found = session.exec(
        select(PolicyVersion).where(
            PolicyVersion.asset_id == asset_id, PolicyVersion.version == version
        )
    ).first()
    if found is None:
        raise NotFound(f"This asset has no policy version {version}.")
    return found


def list_policy_versions(
    session: Session, *, asset_id: uuid.UUID, params: PageParams
) -> tuple[list[PolicyVersion], int]:
    query = (
        select(PolicyVersion)
        .where(PolicyVersion.asset_id == asset_id)
        .order_by(PolicyVersion.version.desc())
    )
    return paginate(session, query, params)


def set_policy(
    session: Session, *, asset: Asset, actor: Account, document: PolicyDocument
) -> PolicyVersion:
    """Store ``document`` as the asset's next version; earlier versions stay readable.

    A likeness's version always excludes sexual content, and a minor's admits nobody else.
    """
    now = utcnow()
    if document.expires_at is not None and document.is_expired(now):
        raise InvalidRequest("expires_at is in the past; give a future time or none.")
    if document.audience == Audience.listed:
        _check_accounts_exist(session, document.listed_accounts)
    owner = session.get(Account, asset.owner_id)
    check_minors_likeness(document, asset=asset, owner=owner, today=now.date())
    document = with_likeness_protections(document, asset=asset)
    # Lock the asset row so two concurrent changes cannot both become version N.
    session.exec(select(Asset.id).where(Asset.id == asset.id).with_for_update()).one()
    latest = session.exec(
        select(func.max(PolicyVersion.version)).where(PolicyVersion.asset_id == asset.id)
    ).one()
    version = PolicyVersion(
        asset_id=asset.id,
        version=(latest or 0) + 1,
        document=document.model_dump(mode="json"),
        revenue_share_bps=owner.revenue_share_bps,
        created_by=actor.id,
    )
    session.add(version)
    session.flush()
    record_event(
        session,
        action="policy.version_created",
        actor_id=actor.id,
        asset_id=asset.id,
        details={"version": version.version, "policy": version.document},
    )
    return version


def restrictions_in_force(session: Session) -> set[str]:
    """Every restriction of a policy version some active grant consents to: what clearances
    read, and what the app's warm-up embeds."""
    consented = select(ConsentGrant.policy_version_id).where(
        ConsentGrant.status == GrantStatus.active
    )
    documents = session.exec(
        select(PolicyVersion.document).where(col(PolicyVersion.id).in_(consented))
    ).all()
    return {text for document in documents for text in document.get("restrictions", ())}


def _check_accounts_exist(session: Session, account_ids: list[uuid.UUID]) -> None:
    found = set(session.exec(select(Account.id).where(Account.id.in_(account_ids))).all())
    missing = [str(account_id) for account_id in account_ids if account_id not in found]
    if missing:
        raise InvalidRequest(
            f"listed_accounts names accounts that do not exist: {', '.join(missing)}."
        )
