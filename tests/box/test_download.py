"""The download's GETs on the adapter's connection pool (box/download.py): against a small HTTP server on
loopback, redirects followed as `requests` would, `Range` kept across them, bodies read into a buffer;
against the sandbox, the content URL asked of the API with the SDK's token and `As-User`, and its answers
(202, 401, 404, 429, 5xx) handled."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from boxcheck import Sandbox, sdk_files

from boxvault.box.connect import BoxConnection, CCGCredentials, Limits, connect
from boxvault.box.download import ContentGone, DownloadError, content_url
from boxvault.box.placement import gone
from boxvault.box.transport import MAX_REDIRECTS, Getter

CONTENT = bytes(range(256)) * 4096  # 1 MiB


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{left - 1}" if left > 1 else "/content")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/gzip":  # a server that compresses although asked for identity
            packed = gzip.compress(CONTENT)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(packed)))
            self.end_headers()
            self.wfile.write(packed)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
        body = CONTENT[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _read_all(getter: Getter, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    body = getter.follow(url, headers, (5.0, 5.0))
    out = bytearray()
    buf = memoryview(bytearray(100_000))
    while n := body.readinto(buf):
        out += buf[:n]
    body.finish()
    return body.status, bytes(out)


@pytest.mark.parametrize("direct", [True, False], ids=["pool", "requests"])
def test_redirects_are_followed_with_the_range(server: str, direct: bool) -> None:
    session = requests.Session()
    session.trust_env = not direct  # trust_env: the `requests` way, as with proxies configured
    getter = Getter(session)
    assert getter._direct is direct
    assert _read_all(getter, f"{server}/content", {}) == (200, CONTENT)
    assert _read_all(getter, f"{server}/hop/3", {}) == (200, CONTENT)
    assert _read_all(getter, f"{server}/hop/2", {"Range": "bytes=1000-"}) == (206, CONTENT[1000:])
    assert _read_all(getter, f"{server}/gzip", {}) == (200, CONTENT)  # decoded, as the sha1 is Box's


def test_too_many_redirects_end_at_the_last_answer(server: str) -> None:
    session = requests.Session()
    session.trust_env = False
    body = Getter(session).follow(f"{server}/hop/{MAX_REDIRECTS + 3}", {}, (5.0, 5.0))
    assert body.status == 302  # download() then reports "HTTP 302" and gives up; nothing loops forever
    body.close()


# --- the content URL: `GET /2.0/files/{id}/content` made here, against the sandbox ----------------


@pytest.fixture
def api(box_sandbox: Callable[..., Sandbox]) -> tuple[Sandbox, BoxConnection, str, str]:
    """A sandbox, a CCG connection to it, one user and the id of one of their files."""
    sandbox = box_sandbox(users=1, files_per_user=5, large_files=0)
    conn = connect(
        CCGCredentials(
            sandbox.creds["client_id"], sandbox.creds["client_secret"], sandbox.creds["enterprise_id"]
        ),
        api_url=sandbox.url,
        limits=Limits(per_user_rps=0),
    )
    user = sandbox.creds["users"][0]["id"]
    file_id = next(iter(sdk_files(conn.as_user(user))))
    return sandbox, conn, user, file_id


def _fetch(url: str) -> bytes:
    with requests.get(url, timeout=10) as r:
        assert r.status_code == 200
        return r.content


def test_content_url_is_the_apis_redirect_for_the_user(api: tuple[Sandbox, BoxConnection, str, str]) -> None:
    sandbox, conn, user, file_id = api
    client = conn.as_user(user)
    url = content_url(client, conn.stats, file_id)
    assert url.startswith(f"{sandbox.url}/dl/{file_id}/")
    assert hashlib.sha1(_fetch(url)).hexdigest() == client.files.get_file_by_id(file_id).sha_1
    assert conn.stats.statuses[302] == 1 and conn.stats.requests >= 1  # counted as an API call
    # the service account itself owns no such file: the As-User header is what made the call the user's
    with pytest.raises(ContentGone):
        content_url(conn.client, conn.stats, file_id)


def test_content_url_waits_for_a_file_not_ready_and_retries_429_and_5xx(
    api: tuple[Sandbox, BoxConnection, str, str],
) -> None:
    sandbox, conn, user, file_id = api
    sandbox.set_faults(not_ready_next=2, retry_after=0)
    url = content_url(conn.as_user(user), conn.stats, file_id, base_interval=0.01)
    assert f"/dl/{file_id}/" in url and conn.stats.retries["202"] == 2
    sandbox.set_faults(fail_next=[429, 503], retry_after=0, paths=["/2.0/files"])
    assert f"/dl/{file_id}/" in content_url(conn.as_user(user), conn.stats, file_id, base_interval=0.01)
    assert conn.stats.retries["429"] == 1 and conn.stats.retries["5xx"] == 1
    sandbox.set_faults(fail_next=[503, 503, 503], paths=["/2.0/files"])
    with pytest.raises(DownloadError, match="503") as failed:
        content_url(conn.as_user(user), conn.stats, file_id, attempts=2, base_interval=0.01)
    assert not isinstance(failed.value, ContentGone)


def test_content_url_refreshes_an_expired_token(api: tuple[Sandbox, BoxConnection, str, str]) -> None:
    sandbox, conn, user, file_id = api
    client = conn.as_user(user)
    content_url(client, conn.stats, file_id)
    before = conn.auth.refreshes
    sandbox.call("POST", "/_sandbox/tokens/expire", {})
    assert f"/dl/{file_id}/" in content_url(client, conn.stats, file_id, base_interval=0.01)
    assert conn.auth.refreshes == before + 1 and conn.stats.retries["401"] == 1


def test_content_url_of_a_deleted_file_or_version_is_gone(
    api: tuple[Sandbox, BoxConnection, str, str],
) -> None:
    _, conn, user, file_id = api
    client = conn.as_user(user)
    with pytest.raises(ContentGone) as version:
        content_url(client, conn.stats, file_id, version_id="999999999")
    assert version.value.status == 404 and gone(version.value)
    client.files.delete_file_by_id(file_id)
    with pytest.raises(ContentGone, match="404") as deleted:
        content_url(client, conn.stats, file_id)
    assert gone(deleted.value)
