"""Authentication reads in the request's read session: a read route goes on in it (one
pooled connection per read), and any other route finds it ended before the route runs, so
no write transaction starts while a read one is held."""

import pytest
from factories import sign_up
from fastapi.routing import APIRoute, iter_route_contexts

from clearhouse.db import get_read_session, get_session
from clearhouse.deps import READ_METHODS, CurrentAccount, ReadSessionDep, current_account


@pytest.fixture
def probed_client(client):
    """The app with a read and a write probe that look at the read session after auth."""

    @client.app.get("/probe/read")
    def probe_read(account: CurrentAccount, session: ReadSessionDep):
        return {"caller_in_session": account in session, "reading": session.in_transaction()}

    @client.app.post("/probe/write")
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
    api_key = probed_client.post("/v1/api-keys", headers=user.headers, json={"name": "k"})
    for headers in (user.headers, {"X-API-Key": api_key.json()["secret"]}):
        response = probed_client.request(method, path, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == expected


def _takes(dependant, dependency) -> bool:
    """Whether the route or its dependencies, authentication's own aside, take ``dependency``."""
    if dependant.call is current_account:
        return False
    return dependant.call is dependency or any(
        _takes(sub, dependency) for sub in dependant.dependencies
    )


def test_read_methods_take_only_the_read_session_and_the_others_only_the_write_one(client):
    """Auth keeps the read session open exactly for READ_METHODS: a GET that wrote would
    hold a read transaction through its write one, and a POST that read would reopen it."""
    routes = [
        r for r in iter_route_contexts(client.app.routes) if isinstance(r.original_route, APIRoute)
    ]
    assert len(routes) > 30  # every router's, not only the app's own
    for route in routes:
        dependant = route.original_route.dependant
        if route.methods <= READ_METHODS:
            assert not _takes(dependant, get_session), f"{route.path_format} writes"
        else:
            assert not _takes(dependant, get_read_session), f"{route.path_format} reads"
