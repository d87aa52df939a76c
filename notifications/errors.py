"""Errors of notifications."""

from clearhouse.errors import InvalidRequest


class EndpointRefused(InvalidRequest):
    """A webhook URL this server will not call (not http(s), or an address inside its network)."""

    slug = "webhook-endpoint-refused"
    title = "Webhook endpoint refused"
