"""How a portal page is made: its route class, its templates, and its errors as pages.

Every portal router uses :class:`PageRoute`, so a page never answers with the API's problem
JSON: an error becomes a page that says what happened and what to do (with the same status
code), a missing or ended session becomes a redirect to sign in that comes back afterwards,
and a malformed request is a 400 page. Forms that fail validation are not errors: their page
renders again with a message beside each field (:func:`field_errors`).
"""

from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from clearhouse.accounts.models import STAFF_ROLES, Account, Role
from clearhouse.errors import ClearhouseError
from clearhouse.portal.sessions import SignInNeeded, csrf_token, keep_pre_session
from payouts.statement_files import format_minor
from payouts.statements import Period

PORTAL_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=PORTAL_DIR / "templates")

# Short messages a page shows after a redirect (?notice=...): only these, never text from
# the URL, so a link cannot make the page say something we did not write.
NOTICES = {
    "signed-up": "Check your email: we sent you a link that verifies your address.",
    "email-verified": "Your email address is verified. Sign in to go on.",
    "signed-out": "You are signed out.",
    "verification-sent": "We sent a new verification link to your address.",
}


def money(amount_minor: int, currency: str = "USD") -> str:
    """An amount as the statements' files write it: in the currency's own minor unit (JPY has
    none, KWD three), so a page and a downloaded statement never disagree."""
    return format_minor(amount_minor, currency.upper())


def when(moment: datetime | date | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        return moment.strftime("%d %b %Y, %H:%M UTC")
    return moment.strftime("%d %b %Y")


def month_name(period: Period | str) -> str:
    """A statement's month, ``2026-11``, as a person reads it: ``November 2026``."""
    month = Period.parse(period) if isinstance(period, str) else period
    return month.starts_at.strftime("%B %Y")


templates.env.filters["money"] = money
templates.env.filters["month_name"] = month_name
templates.env.filters["when"] = when


def nav_for(account: Account | None) -> list[tuple[str, str]]:
    """The main menu: what this account may open."""
    if account is None:
        return [("/sign-in", "Sign in"), ("/sign-up", "Create an account")]
    items = [
        ("/dashboard", "Dashboard"),
        ("/notices", "Inbox"),
        ("/disputes", "Disputes"),
        ("/offers", "Offers"),
        ("/webhooks", "Webhooks"),
    ]
    if account.role in (Role.holder, Role.admin):
        items += [
            ("/assets", "Assets"),
            ("/uses", "Uses"),
            ("/grants", "Grants"),
            ("/statements", "Statements"),
            ("/payouts", "Payouts"),
            ("/audit", "Audit log"),
            ("/organisations", "Organisations"),
        ]
    if account.role in STAFF_ROLES:
        items.append(("/review", "Review"))
    items.append(("/account", "Account"))
    return items


def render(
    request: Request,
    template: str,
    *,
    account: Account | None,
    title: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    settings = request.app.state.settings
    notice = NOTICES.get(request.query_params.get("notice", ""))
    response = templates.TemplateResponse(
        request,
        template,
        {
            "account": account,
            "title": title,
            "nav": nav_for(account),
            "csrf_token": csrf_token(request),
            "notice": notice,
            "is_staff": account is not None and account.role in STAFF_ROLES,
            "unread_notices": getattr(request.state, "unread_notices", 0),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"  # pages carry personal data
    keep_pre_session(request, response, settings)
    return response


def see_other(path: str, *, notice: str | None = None) -> RedirectResponse:
    """Where a form's success goes (POST, then GET: a reload does not send it again)."""
    if notice is not None:
        assert notice in NOTICES, notice
        path += ("&" if "?" in path else "?") + f"notice={notice}"
    return RedirectResponse(path, status_code=303)


def field_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's complaints, one message per form field, in words a person reads."""
    messages: dict[str, str] = {}
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "form"
        if problem["type"] == "missing" or problem.get("input") == "":
            message = "Fill this in."
        elif problem["type"].startswith(("date_", "datetime_")):
            message = "Enter a date, as the date picker writes it (YYYY-MM-DD)."
        else:
            message = problem["msg"].removeprefix("Value error, ")
        messages.setdefault(field, message[0].upper() + message[1:])
    return messages


def safe_next(path: str) -> str:
    """Only a path on this site: ``next`` never sends anyone to another host."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/dashboard"
    return path


def error_page(request: Request, error: ClearhouseError) -> Response:
    if isinstance(error, SignInNeeded):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(here, safe='')}", status_code=303)
    response = render(
        request,
        "error.html",
        account=getattr(request.state, "portal_account", None),
        title=error.title,
        status_code=error.status_code,
        error=error,
    )
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


class PageRoute(APIRoute):
    """A portal page's route: errors answer as pages (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except ClearhouseError as error:
                return error_page(request, error)
            except RequestValidationError:
                return error_page(
                    request,
                    _BadPageRequest(
                        "This address or form is not one the portal makes. Go back and try "
                        "again from the page."
                    ),
                )

        return page


class _BadPageRequest(ClearhouseError):
    status_code = 400
    slug = "bad-request"
    title = "That did not work"
