"""Sign-up, sign-in, access tokens and API keys."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from audit.service import record_event
from clearhouse import signing
from clearhouse.accounts.errors import WrongPassword
from clearhouse.accounts.models import Account, ApiKey, Role, SignedOutToken
from clearhouse.accounts.schemas import AccountAdminUpdate, AccountCreate
from clearhouse.db import utcnow
from clearhouse.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from clearhouse.keys import KeyRing
from clearhouse.schemas import check_storable_text
from clearhouse.settings import Settings

MINIMUM_AGE = 13
API_KEY_PREFIX = "chk_"
# Access tokens that passed every check in this process: a client's next request with the
# same token skips the signature check (see signing.VerifiedTokens).
_verified_access_tokens = signing.VerifiedTokens()


@cache
def _password_hasher(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    """The hasher, and a hash to verify against when the email is unknown, so that sign-in
    takes as long either way."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def _hasher(settings: Settings) -> tuple[PasswordHasher, str]:
    return _password_hasher(settings.password_hash_time_cost, settings.password_hash_memory_kib)


def create_account(
    session: Session, *, data: AccountCreate, settings: Settings, role: Role | None = None
) -> Account:
    """A new account; ``role`` overrides the body's only when the caller is an operator (CLI)."""
    today = utcnow().date()
    account = Account(
        email=data.email.lower(),
        password_hash=_hasher(settings)[0].hash(data.password),
        display_name=data.display_name,
        date_of_birth=data.date_of_birth,
        role=role or Role(data.role),
        revenue_share_bps=settings.default_revenue_share_bps,
    )
    if data.date_of_birth > today:
        raise InvalidRequest("date_of_birth is in the future; give the date you were born.")
    if account.age_on(today) < MINIMUM_AGE:
        raise InvalidRequest(f"Clearhouse accounts are for people aged {MINIMUM_AGE} or over.")
    if session.exec(select(Account.id).where(Account.email == account.email)).first():
        raise Conflict("An account with this email exists; sign in instead.")
    session.add(account)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email
        raise Conflict("An account with this email exists; sign in instead.") from exc
    return account


def authenticate(session: Session, *, email: str, password: str, settings: Settings) -> Account:
    try:
        check_storable_text([email, password])
    except ValueError as exc:
        raise Unauthenticated("The email or the password is wrong.") from exc
    account = session.exec(select(Account).where(Account.email == email.lower())).first()
    hasher, unknown_account_hash = _hasher(settings)
    try:
        hasher.verify(account.password_hash if account else unknown_account_hash, password)
    except (VerificationError, InvalidHashError):
        account = None
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("The email or the password is wrong.")
    return account


def issue_access_token(*, account: Account, settings: Settings, keys: KeyRing) -> tuple[str, int]:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": str(account.id),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": secrets.token_urlsafe(16),
        # Changing the password moves the account's epoch on: tokens of earlier epochs die.
        "epoch": account.session_epoch,
    }
    token = signing.sign(claims, key=keys.access, typ=signing.ACCESS_TOKEN_TYPE)
    return token, int(lifetime.total_seconds())


def account_for_access_token(
    session: Session, *, token: str, settings: Settings, keys: KeyRing
) -> Account:
    claims = access_token_claims(token=token, settings=settings, keys=keys)
    try:
        account_id = uuid.UUID(claims["sub"])
    except ValueError as exc:
        raise Unauthenticated(f"The access token was refused: {exc}. Sign in again.") from exc
    # One indexed read answers both: the account, and whether this token was signed out.
    signed_out = exists().where(SignedOutToken.jti == claims["jti"])
    row = session.exec(select(Account, signed_out).where(Account.id == account_id)).first()
    account = _usable(row[0] if row else None)
    # Tokens from before epochs existed count as epoch 0: a changed password still ends them.
    if row[1] or claims.get("epoch", 0) != account.session_epoch:
        raise Unauthenticated(
            "The access token was ended: signed out, or the password changed since. Sign in again."
        )
    return account


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, *, account: Account, name: str) -> tuple[ApiKey, str]:
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        account_id=account.id,
        name=name,
        prefix=secret[: len(API_KEY_PREFIX) + 8],
        secret_sha256=_secret_hash(secret),
    )
    session.add(key)
    session.flush()
    return key, secret


def list_api_keys(session: Session, *, account: Account) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.created_at)
    return list(session.exec(query).all())


def revoke_api_key(session: Session, *, account: Account, key_id: uuid.UUID) -> ApiKey:
    key = session.exec(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account.id)
    ).first()
    if key is None:
        raise NotFound("No API key with this id among yours.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    return key


def account_for_api_key(session: Session, *, secret: str) -> Account:
    key = session.exec(select(ApiKey).where(ApiKey.secret_sha256 == _secret_hash(secret))).first()
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("The API key is unknown or revoked.")
    return _active_account(session, key.account_id)


def _active_account(session: Session, account_id: uuid.UUID) -> Account:
    return _usable(session.get(Account, account_id))


def lock_active_account(session: Session, account_id: uuid.UUID) -> Account:
    """The account's row, locked for a change to it, if it was not disabled or deleted
    since the request was authenticated."""
    return _usable(
        session.exec(select(Account).where(Account.id == account_id).with_for_update()).first()
    )


def _usable(account: Account | None) -> Account:
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("The account is unknown or disabled.")
    return account


def access_token_claims(*, token: str, settings: Settings, keys: KeyRing) -> dict:
    """The claims of a valid access token (kept once checked, see signing.VerifiedTokens)."""
    try:
        return _verified_access_tokens.verify(
            token,
            keys=keys.access_keys,
            typ=signing.ACCESS_TOKEN_TYPE,
            issuer=settings.issuer,
            audience=settings.audience,
            required=("iss", "aud", "exp", "iat", "sub", "jti"),
        )
    except signing.TokenRejected as exc:
        raise Unauthenticated(f"The access token was refused: {exc}. Sign in again.") from exc


def check_password(*, account: Account, password: str, settings: Settings) -> None:
    """Re-entering the password, before a change that a stolen token must not make."""
    try:
        check_storable_text([password])
        _hasher(settings)[0].verify(account.password_hash, password)
    except (ValueError, VerificationError, InvalidHashError) as exc:
        raise WrongPassword("The password is wrong; nothing was changed.") from exc


def change_password(
    session: Session, *, account: Account, new_password: str, settings: Settings
) -> Account:
    """Set a new password and end every access token issued before (a new epoch)."""
    account = lock_active_account(session, account.id)
    account.password_hash = _hasher(settings)[0].hash(new_password)
    account.session_epoch += 1
    session.add(account)
    record_account_event(session, action="account.password_changed", actor=account, account=account)
    return account


def sign_out(session: Session, *, account: Account, claims: dict) -> None:
    """End one access token; tokens that expired meanwhile are swept from the list."""
    now = utcnow()
    session.exec(delete(SignedOutToken).where(SignedOutToken.expires_at <= now))
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    if expires_at <= now:
        return
    try:
        with session.begin_nested():
            session.add(
                SignedOutToken(jti=claims["jti"], account_id=account.id, expires_at=expires_at)
            )
    except IntegrityError:
        pass  # a concurrent sign-out with the same token got there first: the same outcome


def record_account_event(
    session: Session, *, action: str, actor: Account | None, account: Account, **details: object
) -> None:
    """An audit entry about an account (no asset): who did what to whom."""
    record_event(
        session,
        action=action,
        actor_id=actor.id if actor else None,
        asset_id=None,
        details={"account_id": str(account.id), **details},
    )


def update_account_as_admin(
    session: Session, *, admin: Account, account_id: uuid.UUID, changes: AccountAdminUpdate
) -> Account:
    """Apply an admin's changes; each one is written to the audit log with the admin's id."""
    account = session.exec(
        select(Account).where(Account.id == account_id).with_for_update()
    ).first()
    if account is None or account.deleted_at is not None:
        raise NotFound("No account with this id.")
    if changes.role is not None and changes.role != account.role:
        record_account_event(
            session,
            action="account.role_changed",
            actor=admin,
            account=account,
            before=account.role.value,
            after=changes.role.value,
        )
        account.role = changes.role
    if (
        changes.revenue_share_bps is not None
        and changes.revenue_share_bps != account.revenue_share_bps
    ):
        record_account_event(
            session,
            action="account.revenue_share_changed",
            actor=admin,
            account=account,
            before=account.revenue_share_bps,
            after=changes.revenue_share_bps,
        )
        account.revenue_share_bps = changes.revenue_share_bps
    if changes.disabled is not None and changes.disabled != (account.disabled_at is not None):
        account.disabled_at = utcnow() if changes.disabled else None
        if changes.disabled:  # its tokens stay dead even if it is enabled again
            account.session_epoch += 1
        record_account_event(
            session,
            action="account.disabled" if changes.disabled else "account.enabled",
            actor=admin,
            account=account,
        )
    session.add(account)
    session.flush()
    return account
