"""Base of every request body and the field types that keep it honest.

``extra="forbid"`` stops mass assignment (an ``owner_id`` or a ``role`` in a body is an
error, not silently dropped). Numbers and booleans are strict (``"5"`` is not 5), and dates
must be ISO strings (``0`` is not 1970-01-01): a body that does not match the published
schema is refused rather than guessed at.
"""

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, model_validator


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        check_storable_text(data)
        return data


def check_storable_text(value: Any) -> None:
    """Refuse text no database can store: NUL characters and lone UTF-16 surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain NUL (\\u0000) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text must be valid Unicode (a lone surrogate was found)") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable_text(key)
            check_storable_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_storable_text(item)


def _no_numbers(value: Any) -> Any:
    if isinstance(value, int | float):
        raise ValueError("give an ISO 8601 string")
    return value


IsoDate = Annotated[date, BeforeValidator(_no_numbers)]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_no_numbers)]


def _true_or_false(value: Any) -> Any:
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("give true or false")
    return value


# A yes-or-no query parameter, as the schema's boolean says: not "1", "yes" or "on".
QueryFlag = Annotated[bool, BeforeValidator(_true_or_false)]


def https_link(text: str) -> str:
    """``text``, if it is an https:// address a moderator can open: a host, and no spaces."""
    try:
        host = urlsplit(text).hostname
    except ValueError:  # an address urllib cannot split ("https://[::1")
        host = None
    if not text.startswith("https://") or not host or any(c.isspace() for c in text):
        raise ValueError("a link is an https:// address with a host (https://example.org/...)")
    return text
