"""The download's GETs: on plain `http.client` connections of our own, on the `requests` adapter's urllib3
pool, or through `requests` itself, whichever is the lightest that honours the session's settings.

A Box backup makes two GETs per file (the API's redirect, then the bytes), so their fixed cost is most of a
small file's. Measured on loopback (docs/box.md, "Measured"): about 200 µs of CPU per GET through urllib3's
pool (`urlopen`, its response object, its header bookkeeping), 100 µs on a bare `http.client` connection,
430 µs through `requests`. Most of that cost holds the GIL, which the hashing and packing threads need too.

- **Connections of our own** (`_Pool`) when the session has no proxy and its adapter is `requests`' own
  `HTTPAdapter` with nothing in its pool key but the TLS settings: only the scheme, host, port, `verify`
  and `cert` then matter, and they are applied as `requests` applies them (CA bundle: `verify`'s path,
  else `requests`' default). An idle connection the server has closed is dropped before use, as urllib3
  does.
- **The adapter's urllib3 pool** when the adapter is another class or asks for anything more (a pinned
  address, an SSL context of its own, socket options): its `build_connection_pool_key_attributes` decides,
  as it would for `requests`. Also when a server encodes the body although asked for identity: urllib3
  decodes what it sent.
- **`requests`** when the session has proxies (or reads them from the environment).
"""

from __future__ import annotations

import http.client
import json
import select
import ssl
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH, requote_uri

CHUNK = 1 << 20
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
# what requests' HTTPAdapter puts in a pool key for a plain host; anything else goes to the adapter's pool
_PLAIN_POOL_KWARGS = frozenset({"cert_reqs", "ca_certs", "ca_cert_dir", "cert_file", "key_file"})
_IDLE_PER_HOST = 32  # as many idle connections as the adapter's pool keeps (box/http.py)


class Body(Protocol):
    """One GET's response: status, headers, `readinto` over the body, and what becomes of the connection."""

    status: int
    headers: Any  # a case-insensitive mapping: `.get(name)`

    def readinto(self, view: memoryview) -> int: ...

    def drain(self) -> None:
        """Read what is left of a short body (a redirect's), so the connection can be used again."""

    def finish(self) -> None:
        """The body was read to its end: the connection goes back to its pool."""

    def message(self, limit: int = 65536) -> str:
        """Box's error message in a JSON body (`message`, else `code`); the connection is dropped."""

    def close(self) -> None:
        """Drop the connection (the body may be half read)."""


def _box_message(raw: bytes | None) -> str:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("message") or data.get("code") or "")


def location(body: Body) -> str | None:
    """A redirect's target. HTTP headers arrive as latin-1; a Location with non-ASCII bytes is UTF-8 in
    practice, and is read so, as `requests` does."""
    value: str | None = body.headers.get("Location")
    if not value:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _encoded(headers: Any) -> bool:
    return str(headers.get("Content-Encoding", "identity")).lower() not in ("", "identity")


class _Message:
    """`Body.message` from a body's first bytes (`_start`) and `close`."""

    def _start(self, limit: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def message(self, limit: int = 65536) -> str:
        try:
            raw: bytes | None = self._start(limit)
        except TRANSPORT_ERRORS:
            raw = None
        finally:
            self.close()
        return _box_message(raw)


class _UrllibBody(_Message):
    """A response of urllib3 (the adapter's pool, or `requests`' raw response)."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self.raw = raw
        self.status = raw.status
        self.headers = raw.headers
        fp = getattr(raw, "_fp", None)
        # http.client reads straight into the caller's buffer; urllib3's own read() allocates and copies
        self._fp = fp if isinstance(fp, http.client.HTTPResponse) and not _encoded(raw.headers) else None

    def readinto(self, view: memoryview) -> int:
        if self._fp is not None:
            return self._fp.readinto(view)
        data = self.raw.read(min(len(view), CHUNK), decode_content=True)  # a server that encoded anyway
        view[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        self.raw.drain_conn()

    def finish(self) -> None:
        self.raw.release_conn()

    def _start(self, limit: int) -> bytes:
        data: bytes = self.raw.read(limit, decode_content=True)
        return data

    def close(self) -> None:
        self.raw.close()
        self.raw.release_conn()


class _Connection:
    """An `http.client` connection with the read timeout set once it is open."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.read_timeout: float | None = None

    def open(self, timeout: tuple[float, float]) -> None:
        if self.conn.sock is None:
            self.conn.timeout = timeout[0]
            self.conn.connect()
            self.read_timeout = None
        if self.read_timeout != timeout[1]:
            self.conn.sock.settimeout(timeout[1])
            self.read_timeout = timeout[1]

    def dropped(self) -> bool:
        """The server closed an idle connection (or sent what nobody asked for): readable means unusable."""
        sock = self.conn.sock
        if sock is None:
            return True
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))


class _ClientBody(_Message):
    """A response on one of our own connections."""

    def __init__(self, pool: _Pool, conn: _Connection, resp: http.client.HTTPResponse) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._resp = resp
        self.status = resp.status
        self.headers = resp.headers

    def readinto(self, view: memoryview) -> int:
        return self._resp.readinto(view)

    def drain(self) -> None:
        self._resp.read(CHUNK)

    def finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._resp.isclosed() and conn.conn.sock is not None:
            self._pool.put(conn)
        else:  # the body is not all read, or the server said `Connection: close`
            conn.conn.close()

    def _start(self, limit: int) -> bytes:
        return self._resp.read(limit)

    def close(self) -> None:
        self._resp.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.conn.close()


class _Pool:
    """Idle keep-alive connections to one scheme, host and port, most recently used first."""

    def __init__(self, scheme: str, host: str, port: int | None, pool_kwargs: dict[str, Any]) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self._context = _tls_context(pool_kwargs) if scheme == "https" else None
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def take(self) -> _Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._new()
            if not conn.dropped():
                return conn
            conn.conn.close()

    def put(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < _IDLE_PER_HOST:
                self._idle.append(conn)
                return
        conn.conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.conn.close()

    def _new(self) -> _Connection:
        if self._context is not None:
            return _Connection(http.client.HTTPSConnection(self.host, self.port, context=self._context))
        return _Connection(http.client.HTTPConnection(self.host, self.port))


def _tls_context(pool_kwargs: dict[str, Any]) -> ssl.SSLContext:
    """The TLS settings `requests` gives urllib3 for a session's `verify` and `cert` (see HTTPAdapter's
    `cert_verify`): the CA bundle or directory of `verify`, else requests' default bundle."""
    if pool_kwargs.get("cert_reqs") == "CERT_NONE":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        cafile = pool_kwargs.get("ca_certs")
        capath = pool_kwargs.get("ca_cert_dir")
        if not cafile and not capath:
            cafile = DEFAULT_CA_BUNDLE_PATH
        context = ssl.create_default_context(cafile=cafile, capath=capath)
    if pool_kwargs.get("cert_file"):
        context.load_cert_chain(pool_kwargs["cert_file"], pool_kwargs.get("key_file"))
    return context


@dataclass(frozen=True)
class _Host:
    """One scheme and host as `requests` would connect to it, and our own connections when they may do."""

    host_params: dict[str, Any]
    pool_kwargs: dict[str, Any]
    pool: _Pool | None  # None: only the adapter's urllib3 pool honours its settings


class Getter:
    """GETs of download URLs for one `requests` session (module docstring: which way each one goes)."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self._direct = not session.trust_env and not session.proxies
        self._hosts: dict[tuple[str, str], _Host] = {}
        self._lock = threading.Lock()
        weakref.finalize(self, _close_pools, self._hosts)

    def get(self, url: str, headers: dict[str, str], timeout: tuple[float, float]) -> Body:
        headers = {"Accept-Encoding": "identity", **headers}
        if not self._direct:
            response = self.session.get(
                url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
            )
            return _UrllibBody(response.raw)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        with self._lock:
            host = self._hosts.get(key)
        if host is None:
            host = self._new_host(url, key)
        # a space or a non-ASCII character in a redirect's Location is sent percent-encoded, as urllib3
        # and requests send it (http.client would refuse the URL)
        path = requote_uri((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        headers = {**self.session.headers, **headers}
        if host.pool is not None:
            body = self._client_get(host.pool, path, headers, timeout)
            if not _encoded(body.headers):
                return body
            body.close()  # a server that encodes although asked not to: urllib3 decodes what it sends
        return self._urllib_get(url, host, path, headers, timeout)

    def follow(self, url: str, headers: dict[str, str], timeout: tuple[float, float]) -> Body:
        """`get`, following up to `MAX_REDIRECTS` redirects as `requests` would (a download server may
        send the client on to another host)."""
        for _ in range(MAX_REDIRECTS):
            body = self.get(url, headers, timeout)
            target = location(body)
            if body.status not in REDIRECTS or not target:
                return body
            body.close()
            url = urljoin(url, target)
        return self.get(url, headers, timeout)

    def _new_host(self, url: str, key: tuple[str, str]) -> _Host:
        adapter = self.session.get_adapter(url)
        # the pool key (TLS verification, CA bundle, client cert) exactly as `requests` would build it
        host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(  # type: ignore[attr-defined]
            requests.Request("GET", url).prepare(), self.session.verify, self.session.cert
        )
        manager = getattr(adapter, "poolmanager", None)
        plain = (
            type(adapter) is requests.adapters.HTTPAdapter
            and manager is not None
            and set(manager.connection_pool_kw) <= {"maxsize", "block"}
            and set(pool_kwargs) <= _PLAIN_POOL_KWARGS
            and host_params.get("scheme") in ("http", "https")
        )
        pool = (
            _Pool(str(host_params["scheme"]), str(host_params["host"]), host_params.get("port"), pool_kwargs)
            if plain
            else None
        )
        with self._lock:
            return self._hosts.setdefault(key, _Host(host_params, pool_kwargs, pool))

    def _client_get(
        self, pool: _Pool, path: str, headers: dict[str, str], timeout: tuple[float, float]
    ) -> _ClientBody:
        conn = pool.take()
        try:
            conn.open(timeout)
            conn.conn.request("GET", path, headers=headers)
            resp = conn.conn.getresponse()
        except BaseException:
            conn.conn.close()
            raise
        return _ClientBody(pool, conn, resp)

    def _urllib_get(
        self, url: str, host: _Host, path: str, headers: dict[str, str], timeout: tuple[float, float]
    ) -> _UrllibBody:
        adapter = self.session.get_adapter(url)
        pool = adapter.poolmanager.connection_from_host(**host.host_params, pool_kwargs=host.pool_kwargs)  # type: ignore[attr-defined]
        return _UrllibBody(
            pool.urlopen(
                "GET",
                path,
                headers=headers,
                preload_content=False,
                decode_content=False,
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            ),
        )


def _close_pools(hosts: dict[tuple[str, str], _Host]) -> None:
    for host in list(hosts.values()):
        if host.pool is not None:
            host.pool.close()


_getters: weakref.WeakKeyDictionary[requests.Session, Getter] = weakref.WeakKeyDictionary()
_getters_lock = threading.Lock()


def getter(session: requests.Session) -> Getter:
    """The session's one Getter (its connections are shared by every download of the session)."""
    with _getters_lock:
        found = _getters.get(session)
        if found is None:
            found = _getters[session] = Getter(session)
        return found
