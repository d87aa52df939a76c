"""Which webhook URLs this server calls: http(s) only, and (unless the operator allows it) never
an address inside its own network, so an endpoint cannot make the server probe its neighbours
(SSRF). Checked when an endpoint is registered and again before each delivery, since a name can
resolve elsewhere later; a delivery then connects to the very address it checked (DNS
rebinding: a name that answers a public address to the check and a private one a moment later
gets no second look-up)."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from notifications.errors import EndpointRefused


@dataclass(frozen=True)
class PinnedEndpoint:
    """A webhook URL and the one address of its host that was checked: the delivery connects
    there, and still names the host in its ``Host`` header, its TLS SNI and the certificate
    check."""

    parts: SplitResult
    address: str
    port: int

    @property
    def hostname(self) -> str:
        return self.parts.hostname

    @property
    def target(self) -> str:
        """The request target: the URL's path and query."""
        path = self.parts.path or "/"
        return f"{path}?{self.parts.query}" if self.parts.query else path


def check_endpoint_url(url: str, *, allow_private: bool) -> None:
    """Raise EndpointRefused, saying why, unless this server may POST to ``url``."""
    parts = _checked_parts(url)
    if not allow_private:
        _resolve(parts, allow_private=False)


def pin_endpoint(url: str, *, allow_private: bool) -> PinnedEndpoint:
    """Resolve ``url``'s host once and check it: the address to connect to, or EndpointRefused."""
    parts = _checked_parts(url)
    address, port = _resolve(parts, allow_private=allow_private)
    return PinnedEndpoint(parts=parts, address=address, port=port)


def _checked_parts(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed IPv6 bracket, a host that NFKC would change
        raise EndpointRefused(f"This is not a URL this server can call ({exc}).") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointRefused("Give an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise EndpointRefused("Put no user name or password in the URL; verify the signature.")
    return parts


def _resolve(parts: SplitResult, *, allow_private: bool) -> tuple[str, int]:
    """The host's first address and the port, every address it resolves to checked."""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolved = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise EndpointRefused(f"The host {parts.hostname!r} cannot be resolved ({exc}).") from exc
    addresses = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in resolved]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise EndpointRefused(
                    f"{parts.hostname} resolves to {address}, an address inside a private "
                    "network; give a public URL."
                )
    return str(addresses[0]), port


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: the operator's own translators
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, the IPv4 address in the last 32 bits


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, ...).
    An IPv6 address that carries an IPv4 one (NAT64, 6to4, IPv4-compatible) is judged by that
    one too: a translator or relay on the way would deliver to it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None and not embedded.is_global:
            return False
    return address.is_global


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour
