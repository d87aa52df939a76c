"""Authentication reads in the request's read session: a read route goes on in it (one
pooled connection per read), and any other route finds it ended before the route runs, so
no write transaction starts while a read one is held."""

import pytest
from factories import sign_up
from fastapi.routing import APIRoute, iter_route_contexts

from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import get_session
from clearhouse.deps import READ_METHODS, CurrentAccount, ReadSessionDep, current_account


@pytest.fixture
def probed_client(client):
    """The app with a read and a write probe that look at the read session after auth."""

    @client.app.get("/probe/read")
    @needs_scope(Scope.account_read)
    def probe_read(account: CurrentAccount, session: ReadSessionDep):
        return {"caller_in_session": account in session, "reading": session.in_transaction()}

    @client.app.post("/probe/write")
    @needs_scope(Scope.account_read)
    def probe_write(account: CurrentAccount, session: ReadSessionDep):
        return {"caller_in_session": account in session, "reading": session.in_transaction()}

    return client


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/probe/read", {"caller_in_session": True, "reading": True}),
        ("POST", "/probe/write", {"caller_in_session": False, "reading": False}),
    ],
)
def test_auth_shares_a_reads_session_and_ends_it_before_a_write(
    probed_client, method, path, expected
):
    user = sign_up(probed_client)
    api_key = probed_client.post(
        "/v1/api-keys", headers=user.headers, json={"name": "k", "scopes": ["account:read"]}
    )
    for headers in (user.headers, {"X-API-Key": api_key.json()["secret"]}):
        response = probed_client.request(method, path, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == expected


def _takes(dependant, dependency) -> bool:
    """Whether the route or its dependencies take ``dependency``."""
    return dependant.call is dependency or any(
        _takes(sub, dependency) for sub in dependant.dependencies
    )


def test_authenticated_reads_never_take_the_write_session(client):
    """An authenticated read keeps authentication's read transaction until it answers: one
    that also wrote would hold two connections, and on SQLite pin an old snapshot, through
    its write."""
    routes = [
        route
        for route in iter_route_contexts(client.app.routes)
        if isinstance(route.original_route, APIRoute)
        and route.methods <= READ_METHODS
        and _takes(route.original_route.dependant, current_account)
    ]
    assert len(routes) > 15  # every router's, not only the app's own
    for route in routes:
        assert not _takes(route.original_route.dependant, get_session), route.path_format
