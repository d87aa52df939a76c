"""The clearance routes are matched before every other (clearhouse/app.py, for the event
loop's time). That may change no request's route: no other path matches one of theirs."""

import re

from clearhouse.app import create_app
from clearhouse.settings import Settings
from licensing.api import router as licensing_router


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_no_other_route_matches_a_clearance_routes_path():
    first = {route.path for route in licensing_router.routes}
    others = set(create_app(Settings()).openapi()["paths"]) - first
    assert "/v1/clearances" in first and others
    shared = {
        (mine, other)
        for mine in first
        for other in others
        if _pattern(other).match(_sample(mine)) or _pattern(mine).match(_sample(other))
    }
    assert not shared
