"""Unknown query parameters are refused on the API routes that read some: a misspelt filter
(`?organization_id=`, `?stat=`) would otherwise be ignored, and the caller would read, or act
on, something other than what they asked for. So is a parameter sent twice that holds one
value (`?state=released&state=blocked`), rather than read as whichever came last. The
portal's pages are not checked (browsers and links add their own, such as a notice to show)."""

from typing import get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from clearhouse.errors import InvalidParameters

API_PREFIX = "/v1/"


async def known_query_parameters(request: Request) -> None:
    """Raise InvalidParameters naming the query parameters the API route does not read, or
    reads once but were sent more than once."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith(API_PREFIX):
        return
    known = getattr(route, _KNOWN, None)
    if known is None:  # read once per route, kept on the route itself
        known = _names(route.dependant)
        setattr(route, _KNOWN, known)
    if not known:  # a route that reads none: its path decides (a 404, a 405) as before
        return
    unknown = sorted(set(request.query_params) - known.keys())
    if unknown:
        raise InvalidParameters(
            "This route reads no query parameter named "
            + ", ".join(repr(name) for name in unknown)
            + "; see its parameters in /openapi.json."
        )
    repeated = sorted(
        name
        for name, holds_many in known.items()
        if not holds_many and len(request.query_params.getlist(name)) > 1
    )
    if repeated:
        raise InvalidParameters(
            "Send "
            + ", ".join(repr(name) for name in repeated)
            + " once: a parameter sent more than once is not read as whichever came last."
        )


_KNOWN = "clearhouse_query_names"
_MANY = (list, tuple, set, frozenset)


def _names(dependant: Dependant) -> dict[str, bool]:
    """Each query parameter's name, and whether it holds many values (a list)."""
    names = {
        parameter.alias: get_origin(parameter.field_info.annotation) in _MANY
        for parameter in dependant.query_params
    }
    for dependency in dependant.dependencies:
        names |= _names(dependency)
    return names
