"""An account's life past sign-up, across every domain that holds its things: taken by
whoever reads its address's mail (what the first sign-up set up or joined ends), disabled by
an admin (its consent withdrawn), deleted by its owner (consent withdrawn, faces shredded,
personal data erased, the audit trail kept), exported by its owner (GDPR art. 20).

Apart from ``accounts.service``, which every request imports to authenticate, because these
reach into the rights registry and the likeness vault.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select, update

from audit.models import AuditEntry
from audit.schemas import AuditEntryPublic
from clearhouse.accounts import service as accounts
from clearhouse.accounts.models import Account, SignedOutToken
from clearhouse.accounts.schemas import (
    AccountAdminUpdate,
    AccountExport,
    AccountPublic,
    ApiKeyPublic,
    ExportedAsset,
)
from clearhouse.db import utcnow
from clearhouse.keys import KeyRing
from clearhouse.mail.outbox import forget_recipient
from clearhouse.settings import Settings
from licensing import approvals
from likeness.runtime import LikenessRuntime
from notifications import endpoints
from notifications.models import WebhookEndpoint
from notifications.service import forget_account
from policies.models import PolicyVersion
from policies.schemas import PolicyVersionPublic
from rights import invitations, members, repository
from rights import service as rights
from rights.models import Asset, AssetKind, ConsentReceipt
from rights.schemas import AssetPublic, ReceiptPublic

# An argon2 hash never looks like this, so no password opens a deleted account.
ERASED_PASSWORD_HASH = "!erased"  # noqa: S105 (not a password: a hash nothing matches)


def verify_email(session: Session, *, token: str, settings: Settings, keys: KeyRing) -> Account:
    """Use a verification link (accounts.service.verify_email). A link that takes the address
    from whoever signed up with it first also ends what that sign-up set up or was given:
    its agents would manage the new owner's likenesses, its webhook endpoints would receive
    the new owner's notices, its memberships would make the new owner part of organisations
    they never joined (and someone's agent), and its pending invitations, sent or received,
    are the first sign-up's business, not theirs. An organisation this leaves with no owner is
    closed, and the consent given for it withdrawn: nobody is left to withdraw it."""
    account, taken = accounts.verify_email(session, token=token)
    if not taken:
        return account
    for organisation in members.leave_organisations(session, account=account):
        withdraw_all_consent(
            session,
            owner=members.close_organisation(session, actor=account, organisation=organisation),
            actor=account,
            reason="organisation closed: no owner left",
            settings=settings,
            keys=keys,
        )
    for _, agent in members.agents_of(session, person=account):
        members.remove_agent(session, person=account, agent_id=agent.id)
    invitations.end_invitations(session, account=account)
    for endpoint in session.exec(
        select(WebhookEndpoint).where(WebhookEndpoint.account_id == account.id)
    ).all():
        endpoints.delete_endpoint(session, account_id=account.id, endpoint_id=endpoint.id)
    return account


def withdraw_all_consent(
    session: Session,
    *,
    owner: Account,
    actor: Account,
    reason: str,
    settings: Settings,
    keys: KeyRing,
) -> list[rights.ConsentChange]:
    """Revoke every active grant of every asset the owner has, each with its receipt."""
    assets = session.exec(
        select(Asset).where(Asset.owner_id == owner.id).order_by(Asset.created_at, Asset.id)
    ).all()
    return [
        change
        for asset in assets
        for change in rights.revoke_asset_grants(
            session,
            actor=actor,
            asset=asset,
            reason=reason,
            settings=settings,
            keys=keys,
        )
    ]


def update_account_as_admin(
    session: Session,
    *,
    admin: Account,
    account_id: uuid.UUID,
    changes: AccountAdminUpdate,
    settings: Settings,
    keys: KeyRing,
) -> Account:
    """An admin's change, audited; disabling an account withdraws all its consent, since
    its owner can no longer sign in to do it themselves (GDPR art. 7(3))."""
    account = accounts.update_account_as_admin(
        session, admin=admin, account_id=account_id, changes=changes
    )
    # Also when it was disabled already: then there is nothing left to withdraw.
    if changes.disabled:
        withdraw_all_consent(
            session,
            owner=account,
            actor=admin,
            reason="account disabled",
            settings=settings,
            keys=keys,
        )
    return account


@dataclass(frozen=True)
class AccountDeletion:
    deleted_at: datetime
    grants_revoked: int
    generations_taken_down: int
    likenesses_shredded: int


def delete_account(
    session: Session,
    *,
    account: Account,
    settings: Settings,
    keys: KeyRing,
    likeness: LikenessRuntime,
) -> AccountDeletion:
    """Withdraw every grant (with receipts), delete every asset and shred every likeness's
    face data, kill the API keys and every token, and erase the account's personal data.

    The row stays, anonymised, so that the audit trail, the receipts and the ledger keep
    pointing at someone; the handles of its assets stay reserved as deleted handles.
    """
    account = accounts.lock_active_account(session, account.id)
    revoked = taken_down = shredded = 0
    for asset in session.exec(
        select(Asset).where(Asset.owner_id == account.id, Asset.deleted_at.is_(None))
    ).all():
        deletion = rights.delete_asset(
            session, owner=account, asset=asset, settings=settings, keys=keys, likeness=likeness
        )
        revoked += len(deletion.revoked)
        taken_down += sum(len(change.taken_down) for change in deletion.revoked)
        shredded += asset.kind == AssetKind.likeness
    session.exec(
        update(Asset)
        .where(Asset.owner_id == account.id)
        .values(name="", aliases=[], description="", keywords=[], example_prompts=[])
    )
    now = utcnow()
    approvals.withdraw_requests(session, requester_id=account.id, now=now)
    accounts.revoke_every_api_key(session, account=account)
    accounts.spend_verification_links(session, account_id=account.id, now=now)
    session.exec(SignedOutToken.__table__.delete().where(SignedOutToken.account_id == account.id))
    forget_recipient(session, address=account.email)
    forget_account(session, account_id=account.id)
    erased_address = f"deleted-{account.id}@deleted.invalid"
    invitations.erase_invitations(session, account=account, erased_address=erased_address)
    account.email = erased_address
    account.display_name = ""
    account.password_hash = ERASED_PASSWORD_HASH
    account.date_of_birth = None
    account.deleted_at = account.disabled_at = now
    account.session_epoch += 1
    session.add(account)
    accounts.record_account_event(
        session,
        action="account.deleted",
        actor=account,
        account=account,
        grants_revoked=revoked,
        generations_taken_down=taken_down,
        likenesses_shredded=shredded,
    )
    session.flush()
    return AccountDeletion(
        deleted_at=now,
        grants_revoked=revoked,
        generations_taken_down=taken_down,
        likenesses_shredded=shredded,
    )


def export_account(session: Session, *, account: Account) -> AccountExport:
    """Everything about the account and its assets, deleted ones too; no other owner's."""
    assets = session.exec(
        select(Asset).where(Asset.owner_id == account.id).order_by(Asset.created_at, Asset.id)
    ).all()
    receipts = session.exec(
        select(ConsentReceipt)
        .where(ConsentReceipt.owner_id == account.id)
        .order_by(ConsentReceipt.issued_at, ConsentReceipt.id)
    ).all()
    exported = []
    for asset in assets:
        grants, _ = repository.grants_with_policies(session, asset_id=asset.id)
        grant_ids = {grant.id for grant, _ in grants}
        versions = session.exec(
            select(PolicyVersion)
            .where(PolicyVersion.asset_id == asset.id)
            .order_by(PolicyVersion.version)
        ).all()
        exported.append(
            ExportedAsset(
                **AssetPublic.model_validate(asset, from_attributes=True).model_dump(),
                deleted_at=asset.deleted_at,
                policies=[PolicyVersionPublic.of(version) for version in versions],
                grants=[rights.grant_public(grant, policy) for grant, policy in grants],
                receipts=[
                    ReceiptPublic.model_validate(receipt, from_attributes=True)
                    for receipt in receipts
                    if receipt.grant_id in grant_ids
                ],
            )
        )
    about_account = AuditEntry.body["details"]["account_id"].as_string() == str(account.id)
    entries = session.exec(
        select(AuditEntry)
        .where(or_(col(AuditEntry.asset_id).in_([asset.id for asset in assets]), about_account))
        .order_by(AuditEntry.seq)
    ).all()
    return AccountExport(
        exported_at=utcnow(),
        account=AccountPublic.model_validate(account, from_attributes=True),
        api_keys=[
            ApiKeyPublic.model_validate(key, from_attributes=True)
            for key in accounts.list_api_keys(session, account=account)
        ],
        assets=exported,
        audit_entries=[
            AuditEntryPublic.model_validate(entry, from_attributes=True) for entry in entries
        ],
    )
