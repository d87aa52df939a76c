"""Lists on portal pages: numbered pages of a fixed size and filters read from the address.

A filter form's "All" sends an empty value, so an empty filter means none; anything else
that is not one of the filter's values is a 400 page that says which, never a silent "all".
"""

import math
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request

from clearhouse.errors import InvalidRequest
from clearhouse.pagination import PageParams

PAGE_SIZE = 20
Choice = TypeVar("Choice", bound=StrEnum)

Page = Annotated[int, Query(ge=1, le=100_000, description="Which page of the list, from 1.")]
"""A list page's ``page`` parameter: past the bounds it is a 400 page, never a huge OFFSET."""


def page_params(page: int) -> PageParams:
    return PageParams(limit=PAGE_SIZE, offset=(max(page, 1) - 1) * PAGE_SIZE)


@dataclass(frozen=True)
class Pager:
    """Where a list stands: its page of how many, and the addresses of the pages around."""

    page: int
    pages: int
    total: int
    previous_url: str | None
    next_url: str | None


def pager(request: Request, *, page: int, total: int) -> Pager:
    page = max(page, 1)
    pages = max(math.ceil(total / PAGE_SIZE), 1)

    kept = [
        (key, value)
        for key, value in request.query_params.multi_items()
        if key not in ("page", "notice")
    ]

    def url(number: int) -> str:
        return f"{request.url.path}?{urlencode([*kept, ('page', number)])}"

    return Pager(
        page=page,
        pages=pages,
        total=total,
        previous_url=url(page - 1) if page > 1 else None,
        next_url=url(page + 1) if page < pages else None,
    )


def choice(value: str, options: type[Choice], *, name: str) -> Choice | None:
    if not value:
        return None
    try:
        return options(value)
    except ValueError:
        known = ", ".join(option.value for option in options)
        raise InvalidRequest(f"There is no {name} '{value[:40]}'; choose one of {known}.") from None


def identifier(value: str, *, name: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidRequest(f"This {name} is not one of yours; choose one.") from None
