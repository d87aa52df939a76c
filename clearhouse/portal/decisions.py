"""The one way a review queue's decision form is handled (face conflicts, overlap cases,
claims, disputes): the form read into the API's own decision body, the decision made by the
API's own service call, and the case's page shown again with what went wrong (a malformed
form: 400; a party to the case or a case decided already: the refusal's own status) or a
redirect to it with a notice."""

from collections.abc import Callable
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from clearhouse.errors import Conflict, Forbidden
from clearhouse.portal.pages import field_errors, see_other


def decide_from_form(
    *,
    form: dict[str, str],
    body: Callable[[], BaseModel],
    choose: str,
    decide: Callable[[Any], str],
    page: Callable[..., Response],
    redirect: str,
) -> Response:
    """``body()`` builds the decision from ``form``; ``decide(body)`` makes it and names the
    notice to show; ``page(status_code=, form=, errors=)`` renders the case again; ``choose``
    is what to say when no decision was chosen."""
    try:
        decision = body()
    except ValidationError as invalid:
        errors = field_errors(invalid)
        if "decision" in errors:
            errors["decision"] = choose
        return page(status_code=400, form=form, errors=errors)
    try:
        notice = decide(decision)
    except (Forbidden, Conflict) as refused:
        return page(status_code=refused.status_code, form=form, errors={"form": refused.detail})
    return see_other(redirect, notice=notice)
