"""Fetching a tenant-supplied URL (SAML IdP metadata) without letting a tenant reach the server's neighbours.

DESIGN.md's egress rule: http(s) only; the host is resolved once and the connection pinned to that address;
refused when any address is loopback, private, link-local, multicast, reserved or unspecified unless the
operator allows the network (`BOXVAULT_EGRESS_ALLOW`, CIDRs); no redirects; errors never echo what the remote
side answered. This is a minimal local version until the shared `boxvault.core.egress` lands; swap it in then.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

MAX_BYTES = 1024 * 1024
TIMEOUT = 10.0


class FetchError(ValueError):
    """Why the URL was not fetched, in words safe to show the tenant."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "BOXVAULT_EGRESS_ALLOW", [])]


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in _allowed_networks()):
        return True
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve_checked(url: str) -> tuple[str, str, str]:
    """(scheme, host, pinned address) for `url`, or FetchError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("The metadata URL must be an http:// or https:// address.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        raise FetchError(f"The host {parts.hostname!r} could not be resolved.") from None
    addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    if not addresses or not all(_public(a) for a in addresses):
        raise FetchError(
            f"The host {parts.hostname!r} is on a private or local network; it is not reachable."
        )
    pinned = sorted(addresses, key=lambda a: a.version)[0]
    return parts.scheme, parts.hostname, str(pinned)


def fetch(url: str) -> bytes:
    scheme, host, pinned = resolve_checked(url)
    parts = urlsplit(url)
    netloc = f"[{pinned}]" if ":" in pinned else pinned
    if parts.port:
        netloc += f":{parts.port}"
    target = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rpartition("@")[2], "Accept": "application/samlmetadata+xml, text/xml"}
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client,
            client.stream("GET", target, headers=headers, extensions={"sni_hostname": host}) as response,
        ):
            if response.status_code != 200:
                raise FetchError(f"The metadata URL answered HTTP {response.status_code}, not the metadata.")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchError("The metadata is larger than 1 MB.")
            return body
    except httpx.HTTPError:
        raise FetchError("The metadata URL could not be fetched (connection failed or timed out).") from None
