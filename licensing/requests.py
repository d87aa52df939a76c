"""A clearance request as sent, read into what clearance decides on (licensing/clearance.py)."""

from collections.abc import Sequence

from licensing.clearance import ClearanceRequest
from licensing.digest import request_digest
from licensing.errors import QuoteRefusal, QuoteRefused
from licensing.quote import GenerationParameters
from licensing.schemas import ClearanceCreate

PRICED_PARAMETERS = ("duration_ms", "width", "height", "steps")


def clearance_request(
    body: ClearanceCreate, *, input_media_sha256: Sequence[str] = ()
) -> ClearanceRequest:
    """``input_media_sha256``: of each input file, in order. Raises
    :class:`RequestNotDigestible` or :class:`QuoteRefused` (both 400s)."""
    digest = request_digest(
        prompt=body.prompt,
        declared_use=body.declared_use.value,
        parameters=body.parameters,
        input_media_sha256=input_media_sha256,
    )
    missing = [name for name in PRICED_PARAMETERS if name not in body.parameters]
    if missing:
        raise QuoteRefused(
            QuoteRefusal.invalid_parameters,
            f"parameters must give {', '.join(missing)}: the price depends on them.",
        )
    return ClearanceRequest(
        prompt=body.prompt,
        declared_use=body.declared_use,
        parameters=body.parameters,
        input_media_sha256=tuple(input_media_sha256),
        generation=GenerationParameters(
            **{name: body.parameters[name] for name in PRICED_PARAMETERS}
        ),
        declared_content=frozenset(body.content),
        digest=digest,
    )
