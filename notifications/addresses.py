"""Which webhook URLs this server calls: http(s) only, and (unless the operator allows it) never
an address inside its own network, so an endpoint cannot make the server probe its neighbours
(SSRF). Checked when an endpoint is registered and again before each delivery, since a name can
resolve elsewhere later."""

import ipaddress
import socket
from urllib.parse import urlsplit

from notifications.errors import EndpointRefused


def check_endpoint_url(url: str, *, allow_private: bool) -> None:
    """Raise EndpointRefused, saying why, unless this server may POST to ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointRefused("Give an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise EndpointRefused("Put no user name or password in the URL; verify the signature.")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolved = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise EndpointRefused(f"The host {parts.hostname!r} cannot be resolved ({exc}).") from exc
    for *_, sockaddr in resolved:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise EndpointRefused(
                f"{parts.hostname} resolves to {address}, an address inside a private network; "
                "give a public URL."
            )
