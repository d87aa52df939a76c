"""What an API key may do: its scopes, and the one scope each route declares for keys.

A key acts for its account, but only within the scopes chosen when it was made, and never
beyond them: a route that declares no scope (managing keys, the account's staff work,
anything added without thinking of keys) is closed to every key and needs a signed-in
session (a bearer token). A key never carries staff powers: an admin's or a moderator's key
acts as an account without a staff role. Routes declare their scope with :func:`needs_scope`,
beside ``@raises``; :func:`check_api_key` (run by the caller's authentication in
``clearhouse/deps.py``) is the only place that enforces it, and ``clearhouse/openapi.py``
shows it in each operation's security requirements.
"""

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from fastapi import Request

from clearhouse.accounts.models import STAFF_ROLES, Account, Role
from clearhouse.errors import Forbidden


class Scope(StrEnum):
    """The scopes a key can be given; none of them manages keys or carries staff powers."""

    account_read = "account:read"
    assets_read = "assets:read"
    assets_write = "assets:write"
    likeness_scan = "likeness:scan"
    # Clearing generation requests, and generating (POST /v1/clearances, /v1/generations).
    clearance = "clearance"


SCOPE_DESCRIPTIONS = {
    Scope.account_read: "read the key's own account (GET /v1/accounts/me) and its credits "
    "(GET /v1/credits, its purchases and movements), its notices (and mark them read), its "
    "email preference, its webhook endpoints and their delivery logs",
    Scope.assets_read: "read the account's assets, policies, grants, receipts, enrolments, "
    "conflicts and audit entries",
    Scope.assets_write: "register, change and delete assets, set policies, grant and revoke "
    "consent, enrol faces",
    Scope.likeness_scan: "scan media for the account's own likenesses",
    Scope.clearance: "clear generation requests and generate clips (POST /v1/clearances, "
    "/v1/generations)",
}

SCOPE_ATTRIBUTE = "clearhouse_scope"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def needs_scope(scope: Scope) -> Callable[[Endpoint], Endpoint]:
    """Open a route to API keys that carry ``scope``; without this, no key may call it."""

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, SCOPE_ATTRIBUTE, scope)
        return endpoint

    return declare


def route_scope(endpoint: Callable[..., Any] | None) -> Scope | None:
    return getattr(endpoint, SCOPE_ATTRIBUTE, None)


def check_api_key(request: Request, *, account: Account, scopes: list[str]) -> Account:
    """The account as a key with ``scopes`` may act for it on this request's route.

    Raises :class:`Forbidden` naming the missing scope, or saying that the route needs a
    signed-in session. Staff accounts come back as a copy without their staff role, so that
    no route that asks ``account.role`` grants a key staff powers; the copy is not attached
    to any session and cannot be written back by accident.
    """
    route = request.scope.get("route")
    needed = route_scope(getattr(route, "endpoint", None))
    if needed is None:
        raise Forbidden(
            "API keys cannot call this route: sign in and send the access token "
            "(Authorization: Bearer) instead."
        )
    if needed not in scopes:
        raise Forbidden(
            f"This API key lacks the scope {needed.value!r} this route needs; "
            "create a key with it (POST /v1/api-keys, signed in)."
        )
    if account.role not in STAFF_ROLES:
        return account
    acting_role = Role.holder if account.role == Role.admin else Role.creator
    return Account.model_validate(account.model_dump() | {"role": acting_role})
