"""Routes for sign-up, sign-in, the caller's own account, API keys and account administration."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from clearhouse.accounts import service
from clearhouse.accounts.schemas import (
    AccessToken,
    AccountAdminUpdate,
    AccountCreate,
    AccountPublic,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    EmailVerified,
    SignUpAccepted,
)
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import (
    AdminAccount,
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

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post("/accounts", status_code=status.HTTP_202_ACCEPTED, response_model=SignUpAccepted)
@raises(InvalidRequest)
def sign_up(body: AccountCreate, session: SessionDep, settings: SettingsDep, mailer: MailerDep):
    """Sign up; we email the address a link that verifies it. Staff roles are given by admins.

    The answer is the same whether or not the address has an account (its owner is told by
    email), so nobody learns from it who has one.
    """
    return service.sign_up(session, data=body, settings=settings, mailer=mailer)


@router.get("/accounts/verify-email", response_model=EmailVerified)
@raises(InvalidRequest)
def verify_email(
    token: Annotated[str, Query(max_length=100, description="From the link we emailed.")],
    session: SessionDep,
):
    """The link in a verification email: it verifies the address, once, before it expires."""
    account = service.verify_email(session, token=token)
    return EmailVerified(email=account.email, email_verified_at=account.email_verified_at)


@router.post(
    "/accounts/me/verification-email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignUpAccepted,
)
@raises(Conflict)
def send_verification_email(
    account: CurrentAccount, session: SessionDep, settings: SettingsDep, mailer: MailerDep
):
    """Email a new verification link to your address (the earlier ones keep working)."""
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
    account_id: uuid.UUID, body: AccountAdminUpdate, _admin: AdminAccount, session: SessionDep
):
    """Change an account's role, revenue share or disabled state (admins only)."""
    return service.update_account_as_admin(session, account_id=account_id, changes=body)
