"""What a request touches, from every check: the prompt's text (rights/matching), and later
its input images and faces. Each finding becomes a :class:`Touch` with its evidence."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from licensing.clearance import Touch

TouchFinder = Callable[[str], list[Touch]]


async def get_touch_finder(request: Request) -> TouchFinder:
    """Async: no I/O, so no hand-off to the thread pool."""
    return request.app.state.touch_finder


TouchFinderDep = Annotated[TouchFinder, Depends(get_touch_finder)]
