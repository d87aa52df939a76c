"""Sign-up and email verification, sign-in, access tokens and API keys."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, exists, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from audit.service import record_event
from clearhouse import signing
from clearhouse.accounts.errors import WrongPassword
from clearhouse.accounts.models import Account, ApiKey, EmailVerification, Role, SignedOutToken
from clearhouse.accounts.passwords import normalise_password, password_problem
from clearhouse.accounts.schemas import AccountAdminUpdate, AccountCreate, SignUpAccepted
from clearhouse.accounts.scopes import Scope
from clearhouse.db import utcnow
from clearhouse.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from clearhouse.keys import KeyRing
from clearhouse.mail.outbox import Mailer
from clearhouse.ownership import owned
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


def sign_up(
    session: Session, *, data: AccountCreate, settings: Settings, mailer: Mailer
) -> SignUpAccepted:
    """Answer alike whether or not the address has an account, and email its owner a link.

    A new address gets an unverified account and a verification link. A taken one gets no
    second account: its owner is told someone tried to sign up with it, and if its account was
    never verified, the link in that mail makes this sign-up's password the account's (whoever
    reads the mail owns the address). Both paths hash the password and write one mail, so
    neither the answer nor its timing tells the caller which it was.
    """
    password_hash = _new_password_hash(data, settings=settings)
    email = data.email.lower()
    account = _new_account(data, email=email, password_hash=password_hash, settings=settings)
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:  # the address is taken (or was, a moment ago, by a concurrent one)
        existing = session.exec(select(Account).where(Account.email == email)).one()
        _email_about_attempt(
            session, account=existing, attempt=account, settings=settings, mailer=mailer
        )
    else:
        _email_verification_link(session, account=account, settings=settings, mailer=mailer)
    return SignUpAccepted(
        email=email,
        detail=f"We sent a message to {email}. Follow its link to verify the address, then "
        "sign in with POST /v1/auth/token.",
    )


def create_account(
    session: Session, *, data: AccountCreate, settings: Settings, role: Role
) -> Account:
    """An account made by an operator (CLI), who vouches for its address: verified at once."""
    account = _new_account(
        data,
        email=data.email.lower(),
        password_hash=_new_password_hash(data, settings=settings),
        settings=settings,
    )
    account.role = role
    account.email_verified_at = utcnow()
    if session.exec(select(Account.id).where(Account.email == account.email)).first():
        raise Conflict("An account with this email exists.")
    session.add(account)
    session.flush()
    return account


def _new_password_hash(data: AccountCreate, *, settings: Settings) -> str:
    password = _acceptable_password(data.password, personal=[data.email, data.display_name])
    return _hasher(settings)[0].hash(password)


def _acceptable_password(password: str, *, personal: list[str]) -> str:
    """The password, normalised, if it passes the rules of accounts/passwords.py."""
    password = normalise_password(password)
    problem = password_problem(password, personal=personal)
    if problem:
        raise InvalidRequest(problem)
    return password


def _new_account(
    data: AccountCreate, *, email: str, password_hash: str, settings: Settings
) -> Account:
    today = utcnow().date()
    if data.date_of_birth > today:
        raise InvalidRequest("date_of_birth is in the future; give the date you were born.")
    account = Account(
        email=email,
        password_hash=password_hash,
        display_name=data.display_name,
        date_of_birth=data.date_of_birth,
        role=Role(data.role),
        revenue_share_bps=settings.default_revenue_share_bps,
    )
    if account.age_on(today) < MINIMUM_AGE:
        raise InvalidRequest(f"Clearhouse accounts are for people aged {MINIMUM_AGE} or over.")
    return account


def _verification_link(
    session: Session, *, account: Account, settings: Settings, attempt: Account | None = None
) -> str:
    """A link that verifies ``account``; with ``attempt``, a later sign-up with its address,
    using it also makes that sign-up's password, name and date of birth the account's."""
    token = secrets.token_urlsafe(32)
    session.add(
        EmailVerification(
            account_id=account.id,
            token_sha256=_secret_hash(token),
            password_hash=attempt.password_hash if attempt else None,
            display_name=attempt.display_name if attempt else None,
            date_of_birth=attempt.date_of_birth if attempt else None,
            expires_at=utcnow() + timedelta(hours=settings.email_verification_hours),
        )
    )
    return f"{settings.public_url.rstrip('/')}/v1/accounts/verify-email?token={token}"


def _email_verification_link(
    session: Session, *, account: Account, settings: Settings, mailer: Mailer
) -> None:
    link = _verification_link(session, account=account, settings=settings)
    mailer.queue(
        session,
        to=account.email,
        subject="Verify your email address for Clearhouse",
        body=f"Hello {account.display_name},\n\n"
        f"Follow this link to verify that this address is yours:\n\n{link}\n\n"
        f"It works once, for {settings.email_verification_hours} hours. Until then your "
        "account may not grant consent or enrol a face. If you did not sign up, ignore this.\n",
    )


def _email_about_attempt(
    session: Session, *, account: Account, attempt: Account, settings: Settings, mailer: Mailer
) -> None:
    if account.email_verified_at is not None:
        tail = (
            "If it was you, you already have an account: sign in with your password. "
            "If it was not, nothing changed and you can ignore this message.\n"
        )
    else:
        link = _verification_link(session, account=account, settings=settings, attempt=attempt)
        tail = (
            "This address has an account that was never verified. If that sign-up was you, "
            "follow this link: it verifies the address and makes the password you chose just "
            f"now the account's password.\n\n{link}\n\nIt works once, for "
            f"{settings.email_verification_hours} hours. If it was not you, ignore this.\n"
        )
    mailer.queue(
        session,
        to=account.email,
        subject="Someone tried to sign up to Clearhouse with your address",
        body="Someone just tried to sign up to Clearhouse with this email address. "
        "No second account was made.\n\n" + tail,
    )


def send_verification_email(
    session: Session, *, account: Account, settings: Settings, mailer: Mailer
) -> None:
    if account.email_verified_at is not None:
        raise Conflict("Your email address is verified already.")
    _email_verification_link(session, account=account, settings=settings, mailer=mailer)


def verify_email(session: Session, *, token: str) -> tuple[Account, bool]:
    """Use a verification link once: the account's address is verified. True beside the
    account when the link took the address from whoever signed up with it first
    (lifecycle.verify_email ends what they set up in the other domains)."""
    now = utcnow()
    used = session.execute(
        update(EmailVerification)
        .where(
            EmailVerification.token_sha256 == _secret_hash(token),
            EmailVerification.used_at.is_(None),
            EmailVerification.expires_at > now,
        )
        .values(used_at=now)
        .returning(
            EmailVerification.account_id,
            EmailVerification.password_hash,
            EmailVerification.display_name,
            EmailVerification.date_of_birth,
        )
    ).first()
    if used is None:
        raise InvalidRequest(
            "This link is unknown, used or expired. Sign in and ask for a new one with "
            "POST /v1/accounts/me/verification-email."
        )
    # Locked before anything it ends is read: a write that sets up who acts for the account
    # waits for this one under the same lock, then finds its session ended
    # (lock_signed_in_account).
    account = session.get(Account, used.account_id, with_for_update={"key_share": True})
    if used.password_hash is not None:
        # Whoever signed up first with this address never proved it theirs: their sessions
        # and keys end with the password they chose, and the account is the person who
        # reads the mail (their age decides the protections of minors).
        account.password_hash = used.password_hash
        account.display_name = used.display_name or account.display_name
        account.date_of_birth = used.date_of_birth or account.date_of_birth
        account.session_epoch += 1
        revoke_every_api_key(session, account=account)
    account.email_verified_at = account.email_verified_at or now
    session.add(account)
    spend_verification_links(session, account_id=account.id, now=now)
    return account, used.password_hash is not None


def spend_verification_links(session: Session, *, account_id: uuid.UUID, now: datetime) -> None:
    """Spend every link sent to the account's address (it is verified, or the account
    deleted), and erase the sign-up details they carried: a password hash, a name, a date of
    birth."""
    session.execute(
        update(EmailVerification)
        .where(EmailVerification.account_id == account_id)
        .values(
            used_at=func.coalesce(EmailVerification.used_at, now),
            password_hash=None,
            display_name=None,
            date_of_birth=None,
        )
    )


def authenticate(session: Session, *, email: str, password: str, settings: Settings) -> Account:
    try:
        check_storable_text([email, password])
    except ValueError as exc:
        raise Unauthenticated("The email or the password is wrong.") from exc
    account = session.exec(select(Account).where(Account.email == email.lower())).first()
    hasher, unknown_account_hash = _hasher(settings)
    stored = account.password_hash if account else unknown_account_hash
    if not _password_matches(hasher, stored, password):
        account = None
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("The email or the password is wrong.")
    return account


def _password_matches(hasher: PasswordHasher, stored: str, password: str) -> bool:
    normalised = normalise_password(password)
    # Hashes made before passwords were normalised were made of the password as typed.
    candidates = [normalised] if normalised == password else [normalised, password]
    for candidate in candidates:
        try:
            if hasher.verify(stored, candidate):
                return True
        except (VerificationError, InvalidHashError):
            pass
    return False


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
    row = session.exec(
        _ACCOUNT_AND_SIGNED_OUT, params={"account_id": account_id, "jti": claims["jti"]}
    ).first()
    account = _active(row[0] if row else None)
    # Tokens from before epochs existed count as epoch 0: a changed password still ends them.
    if row[1] or claims.get("epoch", 0) != account.session_epoch:
        raise Unauthenticated(
            "The access token was ended: signed out, or the password changed since. Sign in again."
        )
    return account


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
    key = owned(
        session,
        ApiKey,
        key_id,
        owner_column=ApiKey.account_id,
        owner_id=account.id,
        not_found=NotFound("No API key with this id among yours."),
    )
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
_ACCOUNT_AND_SIGNED_OUT = select(
    Account, exists().where(SignedOutToken.jti == bindparam("jti"))
).where(Account.id == bindparam("account_id"))
_KEY_AND_ACCOUNT = (
    select(ApiKey, Account)
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.secret_sha256 == bindparam("secret_sha256"))
)


def lock_active_account(session: Session, account_id: uuid.UUID) -> Account:
    """The account's row, locked for a change to it, if it was not disabled or deleted
    since the request was authenticated."""
    return _active(
        session.exec(select(Account).where(Account.id == account_id).with_for_update()).first()
    )


def lock_signed_in_account(session: Session, *, account: Account) -> None:
    """Lock the account's row (not against its foreign keys) for a write that sets up who acts
    for it or hears from it: an agent, a webhook endpoint, a membership. Refused if its
    sessions ended since the request was authenticated (its address was taken, its password
    changed, it was disabled): such a write would otherwise land after the takeover that
    ended what the first sign-up set up (lifecycle.verify_email), for the new owner to
    inherit."""
    current = session.exec(
        select(Account.session_epoch, Account.disabled_at)
        .where(Account.id == account.id)
        .with_for_update(key_share=True)
    ).first()
    if current is None or current.disabled_at is not None:
        raise Unauthenticated("The account is unknown or disabled.")
    if current.session_epoch != account.session_epoch:
        raise Unauthenticated(
            "Your session ended while the request waited (the password changed, or the "
            "address was taken by its owner); nothing was changed. Sign in again."
        )


def _active(account: Account | None) -> Account:
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
        reason = str(exc).rstrip(".")  # some of python-jose's reasons end with a full stop
        raise Unauthenticated(f"The access token was refused: {reason}. Sign in again.") from exc


def check_password(*, account: Account, password: str, settings: Settings) -> None:
    """Re-entering the password, before a change that a stolen token must not make."""
    try:
        check_storable_text([password])
    except ValueError as exc:
        raise WrongPassword("The password is wrong; nothing was changed.") from exc
    if not _password_matches(_hasher(settings)[0], account.password_hash, password):
        raise WrongPassword("The password is wrong; nothing was changed.")


def change_password(
    session: Session, *, account: Account, new_password: str, settings: Settings
) -> Account:
    """Set a new password and end every access token issued before (a new epoch)."""
    new_password = _acceptable_password(
        new_password, personal=[account.email, account.display_name]
    )
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


def revoke_every_api_key(session: Session, *, account: Account) -> None:
    session.execute(
        update(ApiKey)
        .where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


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
