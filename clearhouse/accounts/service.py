"""Sign-up, sign-in, access tokens and API keys."""

import hashlib
import secrets
import uuid
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clearhouse import signing
from clearhouse.accounts.models import Account, ApiKey, Role
from clearhouse.accounts.schemas import AccountAdminUpdate, AccountCreate
from clearhouse.accounts.scopes import Scope
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
    }
    token = signing.sign(claims, key=keys.access, typ=signing.ACCESS_TOKEN_TYPE)
    return token, int(lifetime.total_seconds())


def account_for_access_token(
    session: Session, *, token: str, settings: Settings, keys: KeyRing
) -> Account:
    try:
        claims = _verified_access_tokens.verify(
            token,
            keys=keys.access_keys,
            typ=signing.ACCESS_TOKEN_TYPE,
            issuer=settings.issuer,
            audience=settings.audience,
            required=("iss", "aud", "exp", "iat", "sub", "jti"),
        )
        account_id = uuid.UUID(claims["sub"])
    except (signing.TokenRejected, ValueError) as exc:
        raise Unauthenticated(f"The access token was refused: {exc}. Sign in again.") from exc
    return _active_account(session, account_id)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session, *, account: Account, name: str, scopes: list[Scope]
) -> tuple[ApiKey, str]:
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        account_id=account.id,
        name=name,
        prefix=secret[: len(API_KEY_PREFIX) + 8],
        secret_sha256=_secret_hash(secret),
        scopes=sorted(set(scopes)),
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


def account_for_api_key(session: Session, *, secret: str) -> tuple[Account, list[str]]:
    """The key's account and the key's scopes, read with the key in one query."""
    found = session.exec(_KEY_AND_ACCOUNT, params={"secret_sha256": _secret_hash(secret)}).first()
    if found is None or found[0].revoked_at is not None:
        raise Unauthenticated("The API key is unknown or revoked.")
    key, account = found
    return _active(account), key.scopes


# The caller's lookups run on every authenticated request: built once, since building a
# query and its cache key costs more than the database takes to answer it. They read the
# rows anew each time: a disabled account or a revoked key stops working at once.
_ACCOUNT = select(Account).where(Account.id == bindparam("account_id"))
_KEY_AND_ACCOUNT = (
    select(ApiKey, Account)
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.secret_sha256 == bindparam("secret_sha256"))
)


def _active_account(session: Session, account_id: uuid.UUID) -> Account:
    return _active(session.exec(_ACCOUNT, params={"account_id": account_id}).first())


def _active(account: Account | None) -> Account:
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("The account is unknown or disabled.")
    return account


def update_account_as_admin(
    session: Session, *, account_id: uuid.UUID, changes: AccountAdminUpdate
) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No account with this id.")
    if changes.role is not None:
        account.role = changes.role
    if changes.revenue_share_bps is not None:
        account.revenue_share_bps = changes.revenue_share_bps
    if changes.disabled is not None:
        account.disabled_at = utcnow() if changes.disabled else None
    session.add(account)
    return account
