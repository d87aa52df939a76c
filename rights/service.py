"""The rights registry's domain logic: assets, consent grants and revocations.

Every change records an audit event in the same transaction; grants and revocations also
issue a signed consent receipt in it, so the receipt exists exactly when the change does.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from audit.service import record_event
from clearhouse.accounts.models import STAFF_ROLES, Account
from clearhouse.db import utcnow
from clearhouse.errors import InvalidRequest, NotFound, Unauthenticated
from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from generator.takedown import take_down_releases
from licensing.withdrawals import tell_of_withdrawal
from likeness.runtime import LikenessRuntime
from likeness.tasks import forget_likeness
from policies import service as policies
from policies.document import PolicyDocument
from policies.models import PolicyVersion
from policies.protections import check_minors_likeness
from rights import handles, members, repository
from rights.authority import Action, may
from rights.errors import ConsentIsTheHolders, GrantRevoked, LikenessOfDeceased, NothingToGrant
from rights.matching import store as text_catalogue
from rights.matching.runtime import MatchingRuntime
from rights.matching.store import TextVectors
from rights.models import Asset, AssetKind, ConsentGrant, ConsentReceipt, GrantStatus, ReceiptEvent
from rights.overlaps.cases import check_grantable, find_overlaps, hold_catalogue, open_cases
from rights.receipts import issue_receipt, status_url
from rights.references.service import forget_asset_references
from rights.schemas import AssetCreate, AssetUpdate, ConsentStatus, GrantPublic


@dataclass(frozen=True)
class ConsentChange:
    """A grant given or withdrawn: the grant, the policy version it binds, its receipt; for a
    withdrawal, the released generations it took down."""

    grant: ConsentGrant
    policy: PolicyVersion
    receipt: ConsentReceipt
    taken_down: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class AssetDeletion:
    deleted_at: datetime
    revoked: list[ConsentChange]


def create_asset(
    session: Session,
    *,
    owner: Account,
    data: AssetCreate,
    text_vectors: TextVectors | None,
    matching: MatchingRuntime,
) -> Asset:
    """``owner`` registers it, for themselves or, with ``data.organisation_id``, for an
    organisation they own or manage, which then holds it. ``text_vectors``: the embeddings of
    the body's texts (rights/matching/store.py); with None, the IP text check embeds them when
    it first loads the asset.

    A character or style that overlaps another holder's, or a protected entry, is registered
    in review, with an overlap case for moderators (rights/overlaps/)."""
    registrant = owner
    if data.organisation_id is not None:
        owner = _organisation_registering(session, registrant=registrant, data=data)
    asset = Asset(owner_id=owner.id, **data.model_dump(exclude={"organisation_id"}))
    hold_catalogue(session, asset=asset, matching=matching)
    overlaps = find_overlaps(session, asset=asset, matching=matching, vectors=text_vectors)
    session.add(asset)
    _flush_handle(session, asset.handle)
    handles.hold(session, asset=asset, handle=asset.handle)
    open_cases(session, asset=asset, overlaps=overlaps, actor_id=owner.id)
    text_catalogue.record_change(session, asset=asset, vectors=text_vectors)
    record_event(
        session,
        action="asset.created",
        actor_id=registrant.id,
        asset_id=asset.id,
        details={"kind": asset.kind.value, "handle": asset.handle, "name": asset.name},
    )
    return asset


def _organisation_registering(
    session: Session, *, registrant: Account, data: AssetCreate
) -> Account:
    if data.kind == AssetKind.likeness:
        raise InvalidRequest(
            "A likeness is its person's own: register it without organisation_id; the "
            "organisation's people can manage it as your agents (POST /v1/accounts/me/agents)."
        )
    organisation = members.organisation_for(
        session, account=registrant, organisation_id=data.organisation_id, action=Action.manage
    )
    return session.get(Account, organisation.id)


def update_asset(
    session: Session,
    *,
    owner: Account,
    asset: Asset,
    changes: AssetUpdate,
    settings: Settings,
    text_vectors: TextVectors,
    matching: MatchingRuntime,
) -> Asset:
    """``text_vectors``: the embeddings of the texts the body sets (rights/matching/store.py).

    A change of names or description into overlap with another holder's character or style,
    or a protected entry, puts the asset in review, as a registration would."""
    fields = changes.model_dump(exclude_unset=True, exclude_none=True)
    old_handle = asset.handle
    hold_catalogue(session, asset=asset, matching=matching)
    for name, value in fields.items():
        setattr(asset, name, value)
    overlaps = find_overlaps(
        session,
        asset=asset,
        matching=matching,
        vectors=text_vectors if "description" in fields else None,
        names=bool(fields.keys() & {"name", "aliases"}),
    )
    asset.updated_at = utcnow()
    session.add(asset)
    _flush_handle(session, asset.handle)
    if asset.handle != old_handle:
        handles.change(session, asset=asset, old=old_handle, new=asset.handle, settings=settings)
    open_cases(session, asset=asset, overlaps=overlaps, actor_id=owner.id)
    text_catalogue.record_change(session, asset=asset, vectors=text_vectors)
    record_event(
        session, action="asset.updated", actor_id=owner.id, asset_id=asset.id, details=fields
    )
    return asset


def _flush_handle(session: Session, handle: str) -> None:
    """Flush the asset; the same handle live elsewhere (a concurrent one) is HandleTaken."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise handles.handle_taken(handle) from exc


def delete_asset(
    session: Session,
    *,
    owner: Account,
    asset: Asset,
    settings: Settings,
    keys: KeyRing,
    likeness: LikenessRuntime,
) -> AssetDeletion:
    """Revoke every active grant, then retire the asset (its history stays for the owner).

    A likeness's face templates and data key are destroyed with it (crypto-shredding).
    """
    revoked = revoke_asset_grants(
        session, actor=owner, asset=asset, reason="asset deleted", settings=settings, keys=keys
    )
    asset.deleted_at = utcnow()
    session.add(asset)
    handles.retire(session, asset=asset, handle=asset.handle, settings=settings)
    text_catalogue.record_change(session, asset=asset, vectors=None)
    record_event(session, action="asset.deleted", actor_id=owner.id, asset_id=asset.id, details={})
    forget_asset_references(session, asset_id=asset.id)
    if asset.kind == AssetKind.likeness:
        forget_likeness(
            session,
            likeness_id=asset.id,
            reason="likeness deleted",
            actor_id=owner.id,
            key_store=likeness.key_store,
            runtime=likeness,
        )
    session.flush()
    return AssetDeletion(deleted_at=asset.deleted_at, revoked=revoked)


def create_grant(
    session: Session,
    *,
    actor: Account,
    asset: Asset,
    policy_version: int | None,
    settings: Settings,
    keys: KeyRing,
) -> ConsentChange:
    """Consent, in the name of the asset's owner, to uses under a policy version. ``actor``
    is the owner or someone acting for them whose role lets them (rights/authority.py)."""
    owner = actor if actor.id == asset.owner_id else session.get(Account, asset.owner_id)
    _check_owner_still_active(session, owner)
    check_grantable(session, asset)
    if policy_version is None:
        policy = policies.current_policy(session, asset.id)
        if policy is None:
            raise NothingToGrant(
                "This asset has no policy yet, so a grant would consent to nothing; "
                "set one with POST /v1/assets/{id}/policies first."
            )
    else:
        policy = policies.policy_version(session, asset_id=asset.id, version=policy_version)
    document = PolicyDocument.from_stored(policy.document)
    if not document.admits_anyone():
        raise NothingToGrant(
            f"Policy version {policy.version} admits nobody; set an audience first."
        )
    now = utcnow()
    if document.is_expired(now):
        raise NothingToGrant(f"Policy version {policy.version} expired; set a new policy.")
    # Also here: a version stored before its owner's age was checked must not be granted.
    check_minors_likeness(document, asset=asset, owner=owner, today=now.date())
    _check_may_consent(session, actor=actor, asset=asset, document=document, version=policy)
    grant = ConsentGrant(asset_id=asset.id, policy_version_id=policy.id, granted_at=now)
    session.add(grant)
    session.flush()
    receipt = _record_consent_event(
        session,
        event=ReceiptEvent.consent_given,
        grant=grant,
        asset=asset,
        owner=owner,
        actor=actor,
        policy=policy,
        at=now,
        settings=settings,
        keys=keys,
        details={"policy_version": policy.version},
    )
    return ConsentChange(grant=grant, policy=policy, receipt=receipt)


def _check_may_consent(
    session: Session,
    *,
    actor: Account,
    asset: Asset,
    document: PolicyDocument,
    version: PolicyVersion,
) -> None:
    """Consent is the owner's, an organisation's owners' and managers', or a verified
    estate's. A person's agent may grant a version only within what the person consented to
    (a new price, fewer uses): never let anyone new use the face."""
    if may(
        session, account_id=actor.id, action=Action.consent, owner_id=asset.owner_id, asset=asset
    ):
        return
    if asset.deceased_reported_at is not None:
        raise LikenessOfDeceased(
            "This likeness is reported as a deceased person's: only an estate whose authority "
            "a moderator verified may consent to its use."
        )
    given, _ = repository.grants_with_policies(
        session, asset_id=asset.id, status=GrantStatus.active
    )
    if any(document.admits_no_more_than(PolicyDocument.from_stored(p.document)) for _, p in given):
        return
    raise ConsentIsTheHolders(
        f"Policy version {version.version} would let the face be used beyond what its holder "
        "consented to. It is stored: ask the holder to grant it themselves "
        f"(POST /v1/assets/{asset.id}/grants with policy_version {version.version})."
    )


def _check_owner_still_active(session: Session, owner: Account) -> None:
    """Look again, in this write transaction, under a shared lock on the owner's row.

    The caller was authenticated in a read transaction of its own, before this one began:
    an admin may have disabled the account, or its owner deleted it, in between. Both take
    the row's exclusive lock and withdraw every grant, so a grant made after them would
    outlive the withdrawal."""
    current = session.exec(
        select(Account.disabled_at).where(Account.id == owner.id).with_for_update(read=True)
    ).first()
    if current is not None:
        raise Unauthenticated(
            "This account was disabled or deleted while the request waited; nothing was granted."
        )


def revoke_grant(
    session: Session,
    *,
    owner: Account,
    grant_id: uuid.UUID,
    reason: str | None,
    settings: Settings,
    keys: KeyRing,
) -> ConsentChange:
    """Withdraw one of the owner's grants. Any owner may, whatever their role now; so may
    whoever may withdraw for them (rights/authority.py), in their name."""
    # The row lock makes a concurrent clearance that read the grant wait for this commit.
    grant, asset = repository.get_owned_grant(
        session, account_id=owner.id, grant_id=grant_id, action=Action.withdraw, for_update=True
    )
    if grant.status == GrantStatus.revoked:
        raise GrantRevoked(f"This grant was revoked at {grant.revoked_at.isoformat()}.")
    policy = session.get(PolicyVersion, grant.policy_version_id)
    return _revoke(
        session,
        owner=owner if owner.id == asset.owner_id else session.get(Account, asset.owner_id),
        actor=owner,
        asset=asset,
        grant=grant,
        policy=policy,
        reason=reason,
        settings=settings,
        keys=keys,
    )


def revoke_asset_grants(
    session: Session,
    *,
    actor: Account,
    asset: Asset,
    reason: str | None,
    settings: Settings,
    keys: KeyRing,
) -> list[ConsentChange]:
    """Withdraw every active grant of the asset in its owner's name; ``actor``, who asks, is
    the owner, staff, or someone acting for the owner."""
    owner = actor if actor.id == asset.owner_id else session.get(Account, asset.owner_id)
    rows, _ = repository.grants_with_policies(
        session, asset_id=asset.id, status=GrantStatus.active, for_update=True
    )
    return [
        _revoke(
            session,
            owner=owner,
            actor=actor,
            asset=asset,
            grant=grant,
            policy=policy,
            reason=reason,
            settings=settings,
            keys=keys,
        )
        for grant, policy in rows
    ]


def _revoke(
    session: Session,
    *,
    owner: Account,
    actor: Account,
    asset: Asset,
    grant: ConsentGrant,
    policy: PolicyVersion,
    reason: str | None,
    settings: Settings,
    keys: KeyRing,
) -> ConsentChange:
    now = utcnow()
    grant.status = GrantStatus.revoked
    grant.revoked_at = now
    grant.revocation_reason = reason
    session.add(grant)
    # After the grant's row lock (taken by the callers), so a release that committed while
    # we waited for it is seen and taken down too (generator/takedown.py).
    taken_down = take_down_releases(session, grant_id=grant.id, at=now)
    tell_of_withdrawal(
        session,
        owner_id=owner.id,
        asset_id=asset.id,
        handle=asset.handle,
        grant_id=grant.id,
        taken_down=taken_down,
        now=now,
    )
    receipt = _record_consent_event(
        session,
        event=ReceiptEvent.consent_withdrawn,
        grant=grant,
        asset=asset,
        owner=owner,
        actor=actor,
        policy=policy,
        at=now,
        settings=settings,
        keys=keys,
        details={
            "reason": reason,
            "generations_taken_down": [str(generation_id) for generation_id in taken_down],
        },
    )
    return ConsentChange(grant=grant, policy=policy, receipt=receipt, taken_down=tuple(taken_down))


def _collection_method(*, actor: Account, owner: Account, asset: Asset) -> str | None:
    if actor.id == owner.id:
        return None
    if asset.estate_account_id == actor.id:
        return "Given by the verified estate of the holder"
    if actor.role in STAFF_ROLES:
        return "Clearhouse staff action on the holder's account"
    return f"Given on the holder's behalf by account {actor.id}"


_AUDIT_ACTION = {
    ReceiptEvent.consent_given: "grant.created",
    ReceiptEvent.consent_withdrawn: "grant.revoked",
}


def _record_consent_event(
    session: Session,
    *,
    event: ReceiptEvent,
    grant: ConsentGrant,
    asset: Asset,
    owner: Account,
    actor: Account,
    policy: PolicyVersion,
    at: datetime,
    settings: Settings,
    keys: KeyRing,
    details: dict,
) -> ConsentReceipt:
    """Sign the receipt and append the audit entry, both in the caller's transaction."""
    receipt = issue_receipt(
        event=event,
        grant=grant,
        asset=asset,
        owner=owner,
        policy=policy,
        at=at,
        settings=settings,
        keys=keys,
        collection_method=_collection_method(actor=actor, owner=owner, asset=asset),
    )
    session.add(receipt)
    record_event(
        session,
        action=_AUDIT_ACTION[event],
        actor_id=actor.id,
        asset_id=asset.id,
        details={"grant_id": str(grant.id), "receipt_id": str(receipt.id), **details},
    )
    session.flush()
    return receipt


def grant_public(grant: ConsentGrant, policy: PolicyVersion) -> GrantPublic:
    if grant.status == GrantStatus.revoked:
        state = "revoked"
    elif PolicyDocument.from_stored(policy.document).is_expired(utcnow()):
        state = "expired"
    else:
        state = "active"
    return GrantPublic(
        id=grant.id,
        asset_id=grant.asset_id,
        policy_version=policy.version,
        state=state,
        granted_at=grant.granted_at,
        revoked_at=grant.revoked_at,
        revocation_reason=grant.revocation_reason,
    )


def consent_status(session: Session, *, grant_id: uuid.UUID, settings: Settings) -> ConsentStatus:
    """The grant's consent state now, for anyone holding one of its receipts (or its id).

    Says nothing of the owner, the asset or the reason given for a withdrawal."""
    grant = session.get(ConsentGrant, grant_id)
    if grant is None:
        raise NotFound("No grant with this id.")
    expires_at = PolicyDocument.from_stored(
        session.get(PolicyVersion, grant.policy_version_id).document
    ).expires_at
    withdrawn = grant.status == GrantStatus.revoked
    if withdrawn:
        state = "withdrawn"
    elif expires_at is not None and expires_at <= utcnow():
        state = "expired"
    else:
        state = "given"
    return ConsentStatus(
        grant_id=grant.id,
        state=state,
        given_at=grant.granted_at,
        withdrawn_at=grant.revoked_at,
        withdrawal_receipt_id=repository.withdrawal_receipt_id(session, grant.id)
        if withdrawn
        else None,
        expires_at=expires_at,
        status_url=status_url(grant.id, settings=settings),
    )
