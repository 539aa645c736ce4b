"""IP addresses for the allow-list: parsing what people type, and finding who is really asking.

Every address is normalised first: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket
reports for an IPv4 client) is the IPv4 address, so a rule written in IPv4 matches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# ASCII hyphen, en dash and em dash all read as "from–to"
_DASHES = ("–", "—")


class AddressError(ValueError):
    """Input that is not an address, a range or a network; the message names the culprit."""


@dataclass(frozen=True)
class Span:
    """An inclusive range of addresses of one family."""

    version: int
    first: int
    last: int

    def __contains__(self, address: object) -> bool:
        return (
            isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and address.version == self.version
            and self.first <= int(address) <= self.last
        )


def normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> IPAddress:
    text = (text or "").strip()
    # A zone id (fe80::1%eth0) names an interface of this machine, meaningless for a remote client.
    if "%" in text:
        raise AddressError(f"{text!r} is not an IP address (zone ids are not allowed)")
    try:
        return normalise(ipaddress.ip_address(text))
    except ValueError:
        raise AddressError(f"{text!r} is not an IP address") from None


def parse_network(text: str) -> Network:
    text = (text or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise AddressError(f"{text!r} is not a network in CIDR notation (like 192.0.2.0/24)") from None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        if network.prefixlen < 96:
            raise AddressError(f"{text!r} mixes IPv4-mapped and plain IPv6 addresses")
        mapped = network.network_address.ipv4_mapped
        return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network


def parse_range(start: str, end: str) -> Span:
    first, last = parse_address(start), parse_address(end)
    if first.version != last.version:
        raise AddressError(f"the range {first} – {last} mixes IPv4 and IPv6")
    if int(first) > int(last):
        raise AddressError(f"the range {first} – {last} starts after it ends")
    return Span(first.version, int(first), int(last))


def span_of(network: Network) -> Span:
    return Span(network.version, int(network.network_address), int(network.broadcast_address))


def parse_item(text: str) -> tuple[str, Span]:
    """One entry as typed: `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d-e.f.g.h`; returns its canonical text and span."""
    text = text.strip()
    for dash in _DASHES:
        text = text.replace(dash, "-")
    if not text:
        raise AddressError("an empty entry")
    if "/" in text:
        network = parse_network(text)
        return str(network), span_of(network)
    if "-" in text:
        start, _, end = text.partition("-")
        span = parse_range(start, end)
        return f"{parse_address(start)}-{parse_address(end)}", span
    address = parse_address(text)
    return str(address), Span(address.version, int(address), int(address))


def split_items(values: Iterable[str]) -> list[str]:
    """Comma- (or whitespace-) separated lists inside each value, flattened."""
    items: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise AddressError(f"{value!r} is not text")
        for part in value.replace("\n", ",").split(","):
            part = part.strip()
            if not part:
                continue
            # "a - b" with spaces around the dash is one range, otherwise spaces separate entries
            joined = part.replace(" - ", "-").replace(" – ", "-").replace(" — ", "-")
            items.extend(joined.split())
    return items


def parse_rule_value(value: str) -> list[Span]:
    """The stored canonical text of a rule (comma-separated entries) back into spans."""
    return [parse_item(item)[1] for item in split_items([value])]


def allowed(address: IPAddress, spans: Sequence[Span]) -> bool:
    address = normalise(address)
    return any(address in span for span in spans)


# --- who is asking


def _trusted_proxies() -> list[Network]:
    networks = []
    for entry in getattr(settings, "BOXVAULT_TRUSTED_PROXIES", []) or []:
        networks.append(parse_network(entry))
    return networks


def _is_trusted(address: IPAddress, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def is_trusted_proxy(remote_addr: str) -> bool:
    try:
        return _is_trusted(parse_address(remote_addr), _trusted_proxies())
    except AddressError:
        return False


def resolve_client(remote_addr: str, forwarded_for: str | None) -> str:
    """The client's address: the socket peer, unless that peer is a trusted proxy, in which case
    X-Forwarded-For is read from the right, skipping trusted proxies (each appends the address it saw, so
    only the right-most untrusted entry is not the client's own claim)."""
    try:
        peer = parse_address(remote_addr)
    except AddressError:
        return remote_addr
    proxies = _trusted_proxies()
    if not forwarded_for or not _is_trusted(peer, proxies):
        return str(peer)
    client = peer
    for entry in reversed([e.strip() for e in forwarded_for.split(",") if e.strip()]):
        try:
            hop = parse_address(entry)
        except AddressError:
            break  # garbage from the far side: trust what we had
        client = hop
        if not _is_trusted(hop, proxies):
            break
    return str(client)


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR once `ClientAddressMiddleware` has resolved it."""
    return str(request.META.get("REMOTE_ADDR") or "")
