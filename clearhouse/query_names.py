"""Unknown query parameters are refused on the API routes that read some: a misspelt filter
(`?organization_id=`, `?stat=`) would otherwise be ignored, and the caller would read, or act
on, something other than what they asked for. The portal's pages are not checked (browsers
and links add their own, such as a notice to show)."""

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from clearhouse.errors import InvalidParameters

API_PREFIX = "/v1/"


async def known_query_parameters(request: Request) -> None:
    """Raise InvalidParameters naming the query parameters the API route does not read."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith(API_PREFIX):
        return
    known = getattr(route, _KNOWN, None)
    if known is None:  # read once per route, kept on the route itself
        known = frozenset(_names(route.dependant))
        setattr(route, _KNOWN, known)
    if not known:  # a route that reads none: its path decides (a 404, a 405) as before
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidParameters(
            "This route reads no query parameter named "
            + ", ".join(repr(name) for name in unknown)
            + "; see its parameters in /openapi.json."
        )


_KNOWN = "clearhouse_query_names"


def _names(dependant: Dependant) -> set[str]:
    names = {parameter.alias for parameter in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _names(dependency)
    return names
