"""Errors of notifications."""

from clearhouse.errors import Conflict, InvalidRequest


class EndpointRefused(InvalidRequest):
    """A webhook URL this server will not call (not http(s), or an address inside its network)."""

    slug = "webhook-endpoint-refused"
    title = "Webhook endpoint refused"


class EndpointLimitReached(Conflict):
    """The account has as many webhook endpoints as an account may (notifications/endpoints.py)."""

    slug = "webhook-endpoint-limit"
    title = "Too many webhook endpoints"
