"""Routes for sign-up, sign-in, the caller's own account, API keys and account administration."""

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm

from clearhouse.accounts import lifecycle, service
from clearhouse.accounts.errors import WrongPassword
from clearhouse.accounts.models import Account
from clearhouse.accounts.schemas import (
    AccessToken,
    AccountAdminUpdate,
    AccountCreate,
    AccountDeleted,
    AccountDeletionRequest,
    AccountExport,
    AccountPublic,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    EmailVerified,
    PasswordChange,
    PasswordChanged,
    SignUpAccepted,
)
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import (
    AdminAccount,
    BearerCredentials,
    CurrentAccount,
    KeysDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from clearhouse.errors import Conflict, InvalidRequest, NotFound, Unauthenticated, raises
from clearhouse.mail.dependencies import MailerDep
from clearhouse.rate_limit import (
    RateLimited,
    RateLimiterDep,
    RateLimiterUnavailable,
    client_address,
)
from likeness.runtime import LikenessDep

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post("/accounts", status_code=status.HTTP_202_ACCEPTED, response_model=SignUpAccepted)
@raises(InvalidRequest, RateLimited, RateLimiterUnavailable)
def sign_up(
    body: AccountCreate,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    limiter: RateLimiterDep,
    request: Request,
):
    """Sign up; we email the address a link that verifies it. Staff roles are given by admins.

    The answer is the same whether or not the address has an account (its owner is told by
    email), so nobody learns from it who has one. Each sign-up mails its address: they are
    limited per address and per client within an hour (429, Retry-After).
    """
    limiter.limit_mail(recipient=body.email, address=client_address(request))
    return service.sign_up(session, data=body, settings=settings, mailer=mailer)


@router.get(
    "/accounts/verify-email",
    response_model=EmailVerified,
    responses={303: {"description": "A browser (Accept: text/html) is sent on to sign in."}},
)
@raises(InvalidRequest)
def verify_email(
    token: Annotated[str, Query(max_length=100, description="From the link we emailed.")],
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    request: Request,
):
    """The link in a verification email: it verifies the address, once, before it expires."""
    account = lifecycle.verify_email(session, token=token, settings=settings, keys=keys)
    if "text/html" in request.headers.get("accept", ""):  # a person who followed the link
        return RedirectResponse("/sign-in?notice=email-verified", status_code=303)
    return EmailVerified(email=account.email, email_verified_at=account.email_verified_at)


@router.post(
    "/accounts/me/verification-email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignUpAccepted,
)
@raises(Conflict, RateLimited, RateLimiterUnavailable)
def send_verification_email(
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    limiter: RateLimiterDep,
    request: Request,
):
    """Email a new verification link to your address (the earlier ones keep working); limited
    with sign-ups, per address and per client within an hour."""
    limiter.limit_mail(recipient=account.email, address=client_address(request))
    service.send_verification_email(session, account=account, settings=settings, mailer=mailer)
    return SignUpAccepted(
        email=account.email, detail=f"We sent a new link to {account.email}; follow it."
    )


@router.post("/auth/token", response_model=AccessToken)
@raises(Unauthenticated, RateLimited, RateLimiterUnavailable)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: ReadSessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    limiter: RateLimiterDep,
    request: Request,
):
    """Exchange email (as `username`) and password for a short-lived ES256 access token.

    Failed attempts are limited per email tried and per client address (429, Retry-After).
    """
    attempt = limiter.limit_sign_in(email=form.username, address=client_address(request))
    account = service.authenticate(
        session, email=form.username, password=form.password, settings=settings
    )
    # A right password is no guess: only failed attempts stay counted.
    limiter.give_back(attempt)
    token, lifetime = service.issue_access_token(account=account, settings=settings, keys=keys)
    return AccessToken(access_token=token, expires_in=lifetime)


@router.get("/accounts/me", response_model=AccountPublic)
@needs_scope(Scope.account_read)
def read_my_account(account: CurrentAccount):
    return account


async def _password_confirmation(
    settings: SettingsDep, limiter: RateLimiterDep, request: Request
) -> Callable[[Account, str], None]:
    """Checks a re-entered password, counted as a sign-in attempt: a stolen token cannot
    guess the password through these routes any faster than through sign-in."""

    def confirm(account: Account, password: str) -> None:
        attempt = limiter.limit_sign_in(email=account.email, address=client_address(request))
        service.check_password(account=account, password=password, settings=settings)
        limiter.give_back(attempt)

    return confirm


PasswordConfirmation = Annotated[Callable[[Account, str], None], Depends(_password_confirmation)]


@router.post("/accounts/me/password", response_model=PasswordChanged)
@raises(WrongPassword, RateLimited, RateLimiterUnavailable)
def change_password(
    body: PasswordChange,
    account: CurrentAccount,
    confirm_password: PasswordConfirmation,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Change your password, giving the current one. Every access token issued before stops
    working (other sessions end); the answer carries a new token for this one. API keys
    stay valid: revoke them apart."""
    confirm_password(account, body.current_password)
    changed = service.change_password(
        session, account=account, new_password=body.new_password, settings=settings
    )
    token, lifetime = service.issue_access_token(account=changed, settings=settings, keys=keys)
    return PasswordChanged(access_token=token, expires_in=lifetime)


@router.post("/accounts/me/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(
    account: CurrentAccount,
    bearer: BearerCredentials,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """End the access token this request carries; other sessions go on. (No API key reaches
    this route: keys are ended by revoking them, POST /v1/api-keys/{id}/revoke.)"""
    claims = service.access_token_claims(token=bearer.credentials, settings=settings, keys=keys)
    service.sign_out(session, account=account, claims=claims)


@router.post("/accounts/me/deletion", response_model=AccountDeleted)
@raises(WrongPassword, RateLimited, RateLimiterUnavailable)
def delete_my_account(
    body: AccountDeletionRequest,
    account: CurrentAccount,
    confirm_password: PasswordConfirmation,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    likeness: LikenessDep,
):
    """Delete your account, giving your password: every grant is withdrawn (with receipts,
    and the released clips licensed under them taken down), every asset deleted and every
    likeness's face data destroyed, API keys and tokens end, and your email, name and date of
    birth are erased. The audit log keeps what happened."""
    confirm_password(account, body.password)
    deletion = lifecycle.delete_account(
        session, account=account, settings=settings, keys=keys, likeness=likeness
    )
    return AccountDeleted(
        deleted_at=deletion.deleted_at,
        grants_revoked=deletion.grants_revoked,
        generations_taken_down=deletion.generations_taken_down,
        likenesses_shredded=deletion.likenesses_shredded,
    )


@router.get("/accounts/me/export", response_model=AccountExport)
def export_my_data(account: CurrentAccount, session: ReadSessionDep):
    """Everything held about you and what you registered, as one JSON document (GDPR art.
    20): your account, API keys (no secrets), assets, policy versions, grants, receipts and
    the audit entries about them and about your account."""
    return lifecycle.export_account(session, account=account)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, account: CurrentAccount, session: SessionDep):
    """A key for a service acting as this account within `scopes`. The secret is shown only in
    this response. Managing keys needs a signed-in session: no key makes, lists or revokes keys.
    """
    key, secret = service.create_api_key(
        session, account=account, name=body.name, scopes=body.scopes
    )
    return ApiKeyCreated(
        **ApiKeyPublic.model_validate(key, from_attributes=True).model_dump(), secret=secret
    )


@router.get("/api-keys", response_model=list[ApiKeyPublic])
def list_api_keys(account: CurrentAccount, session: ReadSessionDep):
    return service.list_api_keys(session, account=account)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic)
@raises(NotFound)
def revoke_api_key(key_id: uuid.UUID, account: CurrentAccount, session: SessionDep):
    return service.revoke_api_key(session, account=account, key_id=key_id)


@router.patch("/admin/accounts/{account_id}", response_model=AccountPublic, tags=["admin"])
@raises(NotFound)
def update_account(
    account_id: uuid.UUID,
    body: AccountAdminUpdate,
    admin: AdminAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Change an account's role, revenue share or disabled state (admins only). Each change
    is written to the audit log; disabling an account withdraws every grant it gave."""
    return lifecycle.update_account_as_admin(
        session, admin=admin, account_id=account_id, changes=body, settings=settings, keys=keys
    )
