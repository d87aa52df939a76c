"""FastAPI dependencies shared by every router: settings, keys, the session, the caller."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from clearhouse.accounts import service as accounts
from clearhouse.accounts.models import STAFF_ROLES, Account, Role
from clearhouse.accounts.scopes import check_api_key
from clearhouse.db import get_read_session, get_session
from clearhouse.errors import DatabaseBusy, Forbidden, Unauthenticated, raises
from clearhouse.keys import KeyRing
from clearhouse.rate_limit import RateLimited, RateLimiter, RateLimiterDep, RateLimiterUnavailable
from clearhouse.settings import Settings


# Dependencies that do no I/O are `async def`: FastAPI would hand each plain `def` to the
# thread pool, a cost every request pays several times over.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_keys(request: Request) -> KeyRing:
    return request.app.state.keys


@raises(DatabaseBusy)
async def get_engine(request: Request) -> Engine:
    """For routes that do slow work (media, models) between short transactions of their own."""
    return request.app.state.engine


# scope="function": the commit happens before the response is sent, so a client that got
# an answer can rely on the next request seeing what this one wrote.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
# Routes that only read take this one: it never waits for, nor holds, the write lock.
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[KeyRing, Depends(get_keys)]
EngineDep = Annotated[Engine, Depends(get_engine)]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /v1/auth/token.")
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A service's key from POST /v1/api-keys."
)


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
"""The access token the request carries, if any (sign-out ends it)."""


# Requests whose routes only read (`ReadSessionDep`); every other method's route writes.
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Credentials:
    """What a request presents to say who sends it: an access token or an API key."""

    token: str | None
    api_key: str | None


ApiKeyHeader = Annotated[str | None, Security(_api_key)]


@raises(Unauthenticated)
async def caller_credentials(bearer: BearerCredentials, api_key: ApiKeyHeader) -> Credentials:
    """The request's credentials, unchecked (no I/O): a request with none is refused here."""
    return _credentials(bearer, api_key)


def _credentials(bearer: HTTPAuthorizationCredentials | None, api_key: str | None) -> Credentials:
    if bearer is None and not api_key:
        raise Unauthenticated(
            "Send an access token (Authorization: Bearer) or an X-API-Key header."
        )
    return Credentials(token=bearer.credentials if bearer is not None else None, api_key=api_key)


CallerCredentials = Annotated[Credentials, Depends(caller_credentials)]
"""For a route that authenticates in its own hand-off to the thread pool (:func:`authenticate`)
rather than before it (`CurrentAccount`): one hand-off and one session fewer."""


@raises(Unauthenticated, Forbidden, RateLimited, RateLimiterUnavailable)
async def current_account(
    request: Request,
    settings: SettingsDep,
    keys: KeysDep,
    bearer: BearerCredentials,
    api_key: ApiKeyHeader,
    limiter: RateLimiterDep,
    session: ReadSessionDep,
) -> Account:
    """The caller, re-read from the database on every request, so that a disabled account or
    a revoked key stops working at once; one hand-off to the thread pool.

    The lookup reads in the request's read session: a read route then goes on in the same
    transaction on the same pooled connection. Any other request's read ends here, before
    its route runs: authenticating takes no lock, and a route's write transaction starts
    only with its own first statement. A key acts only on routes open to its scopes
    (accounts/scopes.py).
    """
    credentials = _credentials(bearer, api_key)
    return await run_in_threadpool(
        _authenticate,
        request,
        session,
        credentials=credentials,
        settings=settings,
        keys=keys,
        limiter=limiter,
        keep_reading=request.method in READ_METHODS,
    )


def _authenticate(request: Request, session: Session, *, keep_reading: bool, **lookup) -> Account:
    try:
        return authenticate(request, session, **lookup)
    finally:
        if not keep_reading:
            session.close()


def authenticate(
    request: Request,
    session: Session,
    *,
    credentials: Credentials,
    settings: Settings,
    keys: KeyRing,
    limiter: RateLimiter,
) -> Account:
    """:func:`current_account`'s lookup, in ``session`` (which it leaves open), for a route
    that runs it in its own thread: the account behind the token or key, the key's rate limit
    counted and its scopes checked against the route."""
    if credentials.token is not None:
        return accounts.account_for_access_token(
            session, token=credentials.token, settings=settings, keys=keys
        )
    account, scopes = accounts.account_for_api_key(session, secret=credentials.api_key)
    limiter.limit_api_key(secret=credentials.api_key)
    return check_api_key(request, account=account, scopes=scopes)


CurrentAccount = Annotated[Account, Depends(current_account)]


def require_role(*roles: Role) -> Callable[[Account], Awaitable[Account]]:
    allowed = ", ".join(roles)

    @raises(Forbidden)
    async def check(account: CurrentAccount) -> Account:
        if account.role not in roles:
            raise Forbidden(f"This needs one of these roles: {allowed}.")
        return account

    return check


AdminAccount = Annotated[Account, Depends(require_role(Role.admin))]
ModeratorAccount = Annotated[Account, Depends(require_role(*STAFF_ROLES))]
HolderAccount = Annotated[Account, Depends(require_role(Role.holder, Role.admin))]
