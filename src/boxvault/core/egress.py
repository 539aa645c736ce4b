"""The egress guard: which addresses a tenant-supplied URL may make this server connect to.

A tenant gives URLs (an S3-compatible endpoint, an emulator endpoint); the server connects there. Without a
guard any tenant could use the server to reach its database, its cache, a cloud metadata service or the
operator's internal network (server-side request forgery). The rule (DESIGN.md "Egress"):

- scheme http or https, no user-info, a host;
- the host is resolved *once*; the request is refused when ANY resolved address is loopback, private,
  link-local, multicast, reserved, unspecified or otherwise not globally routable (IPv4, IPv6, IPv4-mapped
  and NAT64/6to4-embedded IPv4 included), unless it lies in a network the operator allows
  (``BOXVAULT_EGRESS_ALLOW``: comma-separated CIDRs, e.g. ``127.0.0.1/32`` for a local emulator);
- the connection then goes to the checked address (`Pinned.address`), never to a second resolution, so a
  DNS answer that changes between check and connect (rebinding) cannot redirect it; `PinnedAdapter` does
  that for requests/urllib3 while TLS still verifies the certificate against the host name;
- redirects are not followed (callers pass ``allow_redirects=False``).

Error messages name the refusal only ("endpoint not allowed: private address"); nothing the remote side
answered is ever put into them. This module imports no boxvault app; Django settings are read lazily.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Sequence[Any]]

ENV_ALLOW = "BOXVAULT_EGRESS_ALLOW"
# Every outbound call a tenant can cause: seconds to connect, seconds between bytes read.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
TIMEOUTS = (CONNECT_TIMEOUT, READ_TIMEOUT)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(ValueError):
    """A URL the server will not connect to; the message is safe to show to the tenant."""


@dataclass(frozen=True)
class Pinned:
    """A checked URL: connect to `address` (and nowhere else) for `host`."""

    url: str  # scheme://host[:port] as given (no path)
    scheme: str
    host: str  # as in the URL: the TLS name and the Host header
    port: int
    address: str  # the checked IP to connect to

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host (for clients that cannot pin otherwise)."""
        name = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{name}:{self.port}"


def allowed_networks() -> list[Network]:
    """The operator's allow-list: Django's setting when configured, else the environment."""
    raw: Any = None
    try:
        from django.conf import settings

        if settings.configured:
            raw = getattr(settings, "BOXVAULT_EGRESS_ALLOW", None)
    except ImportError:  # pragma: no cover - Django is a dependency; the guard also works without it
        raw = None
    if raw is None:
        raw = os.environ.get(ENV_ALLOW, "")
    return parse_networks(raw)


def parse_networks(raw: str | Iterable[str]) -> list[Network]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    networks: list[Network] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"{ENV_ALLOW}: {text!r} is not a network (CIDR such as 10.0.0.0/8)") from exc
    return networks


def refusal(address: Address) -> str | None:
    """Why the address is not a public one (None when it is)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if address.is_reserved:
        return "reserved address"
    if address.is_private:
        return "private address"
    if not address.is_global:  # shared (100.64/10), benchmarking, documentation, ...
        return "reserved address"
    return None


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def check_address(address: Address, allow: Sequence[Network] | None = None) -> None:
    allow = allowed_networks() if allow is None else allow
    reason = refusal(address)
    if reason is None:
        return
    mapped = _embedded_ipv4(address)
    if any(address in net or (mapped is not None and mapped in net) for net in allow):
        return
    raise EgressRefused(f"endpoint not allowed: {reason}")


def check_url(
    url: str,
    *,
    allow: Sequence[Network] | None = None,
    resolver: Resolver | None = None,
) -> Pinned:
    """Check a tenant's base URL (scheme://host[:port]); the path, if any, is the caller's business."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise EgressRefused("endpoint not allowed: not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise EgressRefused("endpoint not allowed: only http and https URLs are accepted")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise EgressRefused("endpoint not allowed: user names in URLs are not accepted")
    host = (parts.hostname or "").rstrip(".")
    if not host or any(c.isspace() for c in host) or "%" in host:
        raise EgressRefused("endpoint not allowed: no host")
    port = port or (443 if parts.scheme == "https" else 80)
    address = resolve(host, port, allow=allow, resolver=resolver)
    base = f"{parts.scheme}://{parts.netloc}"
    return Pinned(url=base, scheme=parts.scheme, host=host, port=port, address=address)


def resolve(
    host: str, port: int, *, allow: Sequence[Network] | None = None, resolver: Resolver | None = None
) -> str:
    """Resolve once and check every address; the first one is the one to connect to."""
    allow = allowed_networks() if allow is None else allow
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[Address] = [literal]
    else:
        lookup = resolver or socket.getaddrinfo
        try:
            infos = lookup(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise EgressRefused("endpoint not allowed: the host name does not resolve") from None
        addresses = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
            try:
                addresses.append(ipaddress.ip_address(text))
            except ValueError:
                raise EgressRefused("endpoint not allowed: the host name does not resolve") from None
        if not addresses:
            raise EgressRefused("endpoint not allowed: the host name does not resolve")
    for address in addresses:  # ANY bad address refuses: the client might pick it on a later try
        check_address(address, allow)
    return str(addresses[0])


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that connects to the checked address of one host, whatever DNS says later.

    urllib3's pool is keyed on the address, while TLS sends the host name (SNI) and verifies the
    certificate against it, and the Host header names the host. Requests for
    any other host are refused: a client holding this adapter cannot be pointed elsewhere.
    """

    def __init__(self, pinned: Pinned, **kwargs: Any) -> None:
        self.pinned = pinned
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = str(host_params.get("host") or "").strip("[]").rstrip(".").lower()
        scheme = str(host_params.get("scheme") or "")
        port = int(host_params.get("port") or (443 if scheme == "https" else 80))
        if host != self.pinned.host.lower() or port != self.pinned.port or scheme != self.pinned.scheme:
            raise EgressRefused("endpoint not allowed: a request for another host")
        host_params["host"] = self.pinned.address
        if scheme == "https":
            pool_kwargs["server_hostname"] = self.pinned.host
            pool_kwargs["assert_hostname"] = self.pinned.host
        return host_params, pool_kwargs

    def add_headers(self, request: Any, **kwargs: Any) -> None:
        # urllib3 would name the address it connects to; the server must see the name
        if not any(key.lower() == "host" for key in request.headers):
            request.headers["Host"] = self.pinned.netloc


def pinned_session(pinned: Pinned) -> Any:
    """A requests session bound to one checked host: pinned, no proxies from the environment. Callers still
    pass ``allow_redirects=False`` (a redirect to another host would be refused by the adapter anyway)."""
    import requests

    session = requests.Session()
    session.trust_env = False  # no proxy variables, no .netrc credentials: exactly what the caller sends
    adapter = PinnedAdapter(pinned, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def require_allowed_network(pinned: Pinned, allow: Sequence[Network] | None = None) -> None:
    """Stricter than `check_url`: the address must lie in a network the operator allows, public or not.
    For clients that cannot be pinned or kept from following redirects: only endpoints the operator vouches
    for."""
    allow = allowed_networks() if allow is None else allow
    address = ipaddress.ip_address(pinned.address)
    mapped = _embedded_ipv4(address)
    if not any(address in net or (mapped is not None and mapped in net) for net in allow):
        raise EgressRefused("endpoint not allowed: only the cloud's own endpoint is accepted here")
