"""The portal's sessions and its CSRF tokens.

A signed-in browser holds the same short-lived ES256 access token the API hands out, in a
cookie the page's scripts cannot read (HttpOnly), that is not sent with another site's
requests that change anything (SameSite=Lax), and that only travels over HTTPS when the
platform is served over HTTPS (Secure). The API itself never reads the cookie: it takes tokens
from the Authorization header only, so a cookie cannot be replayed against it cross-site.
Signing out ends the token exactly as the API's sign-out does.

Every form carries a CSRF token: an HMAC of the session's token (or, before sign-in, of a
random value in a cookie of its own), which another site can neither read nor compute. A
POST whose token does not match is refused before anything runs.
"""

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from clearhouse.accounts import service as accounts
from clearhouse.accounts.dependencies import require_verified
from clearhouse.accounts.models import STAFF_ROLES, Account, Role
from clearhouse.deps import KeysDep, ReadSessionDep, SettingsDep
from clearhouse.errors import ClearhouseError, Forbidden, Unauthenticated
from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from notifications.service import unread_count

SESSION_COOKIE = "clearhouse_session"
PRE_SESSION_COOKIE = "clearhouse_csrf"
CSRF_FIELD = "csrf_token"


class SignInNeeded(ClearhouseError):
    """No session, or an ended one: the page sends the browser to sign in (see pages.py)."""

    status_code = 401
    slug = "sign-in-needed"
    title = "Sign in to continue"


class CsrfRefused(ClearhouseError):
    status_code = 403
    slug = "csrf-refused"
    title = "This form has expired"


def _csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"clearhouse portal form", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry: bound to its session, or to its pre-session
    cookie (made here, and set on the response by :func:`keep_pre_session`)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return _csrf_for(session_token)
    pre_session = request.cookies.get(PRE_SESSION_COOKIE) or getattr(
        request.state, "new_pre_session", None
    )
    if pre_session is None:
        pre_session = secrets.token_urlsafe(32)
        request.state.new_pre_session = pre_session
    return _csrf_for(pre_session)


def keep_pre_session(request: Request, response: Response, settings: Settings) -> None:
    """Set the pre-session cookie that :func:`csrf_token` made for this response's forms."""
    made = getattr(request.state, "new_pre_session", None)
    if made is not None:
        response.set_cookie(
            PRE_SESSION_COOKIE,
            made,
            httponly=True,
            samesite="strict",
            secure=_secure(settings),
            path="/",
        )


async def check_csrf(request: Request) -> None:
    """Refuse a form posted without this browser's CSRF token (another site's form)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = csrf_token(request)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise CsrfRefused(
            "The form was not sent from this site's page, or the page is older than your "
            "session. Go back, reload the page and send it again; nothing was changed."
        )


CsrfChecked = Depends(check_csrf)


def start_session(response: Response, *, account: Account, settings: Settings, keys: KeyRing):
    token, lifetime = accounts.issue_access_token(account=account, settings=settings, keys=keys)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def end_session(
    session: Session, request: Request, response: Response, *, settings: Settings, keys: KeyRing
) -> None:
    """Sign the session's token out (it stops working at once, everywhere) and drop the
    cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            claims = accounts.access_token_claims(token=token, settings=settings, keys=keys)
            account = accounts.account_for_access_token(
                session, token=token, settings=settings, keys=keys
            )
        except Unauthenticated:
            pass  # already ended or expired: nothing left to end
        else:
            accounts.sign_out(session, account=account, claims=claims)
    response.delete_cookie(SESSION_COOKIE, path="/")


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def _signed_in(
    request: Request, session: ReadSessionDep, settings: SettingsDep, keys: KeysDep
) -> Account:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded("Sign in to see this page.")
    try:
        account = accounts.account_for_access_token(
            session, token=token, settings=settings, keys=keys
        )
    except Unauthenticated as ended:
        raise SignInNeeded(ended.detail) from None
    request.state.portal_account = account  # for the menu of an error page
    request.state.unread_notices = unread_count(session, account_id=account.id)  # the menu's
    return account


def _signed_in_or_none(
    request: Request, session: ReadSessionDep, settings: SettingsDep, keys: KeysDep
) -> Account | None:
    try:
        return _signed_in(request, session, settings, keys)
    except SignInNeeded:
        return None


def _holder(account: Annotated[Account, Depends(_signed_in)]) -> Account:
    if account.role not in (Role.holder, Role.admin):
        raise Forbidden(
            "These pages are for rights holders. Your account is a creator's: creators use the "
            "clearance API."
        )
    return account


def _staff(account: Annotated[Account, Depends(_signed_in)]) -> Account:
    if account.role not in STAFF_ROLES:
        raise Forbidden("This page is for moderators.")
    return account


PAGE_NEW_LINK = 'For a new link, press "Send a new link" above. Nothing was sent or stored.'
"""How a portal page says to get a new verification link: the banner of every page of an
unverified account holds the form (base.html)."""


def _verified(account: Annotated[Account, Depends(_signed_in)]) -> Account:
    return require_verified(account, new_link=PAGE_NEW_LINK)


def _verified_holder(account: Annotated[Account, Depends(_holder)]) -> Account:
    return require_verified(account, new_link=PAGE_NEW_LINK)


PortalAccount = Annotated[Account, Depends(_signed_in)]
"""Whoever is signed in, any role."""
PortalHolder = Annotated[Account, Depends(_holder)]
"""A signed-in rights holder (or admin): the portal's pages about assets, uses and money."""
PortalVerified = Annotated[Account, Depends(_verified)]
"""Whoever is signed in with a verified email address: the API's `VerifiedAccount`. Anyone
else gets a page that says to verify first, with the banner's "Send a new link"."""
PortalVerifiedHolder = Annotated[Account, Depends(_verified_holder)]
"""A signed-in rights holder (or admin) with a verified email address: the API's
`VerifiedHolderAccount`."""
PortalStaff = Annotated[Account, Depends(_staff)]
"""A signed-in moderator or admin."""
MaybeSignedIn = Annotated[Account | None, Depends(_signed_in_or_none)]
