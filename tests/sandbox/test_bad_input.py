"""Bad input gets Box's error object with a 4xx: never a 500 or a traceback."""

from __future__ import annotations

import pytest
import requests

from support.sandbox import SandboxServer

ERROR_KEYS = {"type", "status", "code", "message", "help_url", "request_id"}


@pytest.fixture(scope="module")
def token(sandbox: SandboxServer) -> str:
    sandbox.clear_faults()
    sandbox.reset_stats()  # the last test checks that this module's requests caused no 5xx
    return sandbox.developer_token(sandbox.users[0]["id"])


CASES = [
    # method, path, kwargs, expected status
    ("GET", "/2.0/folders/0/items?limit=5000", {}, 400),
    ("GET", "/2.0/folders/0/items?limit=abc", {}, 400),
    ("GET", "/2.0/folders/0/items?limit=0", {}, 400),
    ("GET", "/2.0/folders/0/items?offset=-1", {}, 400),
    ("GET", "/2.0/folders/0/items?offset=20000", {}, 400),
    ("GET", "/2.0/folders/0/items?usemarker=true&marker=%%%garbage", {}, 400),
    ("GET", "/2.0/folders/0/items?usemarker=maybe", {}, 400),
    ("GET", "/2.0/folders/0/items?sort=color", {}, 400),
    ("GET", "/2.0/folders/0/items?direction=UP", {}, 400),
    ("GET", "/2.0/folders/99999999/items", {}, 404),
    ("GET", "/2.0/folders/not-a-number", {}, 404),
    ("GET", "/2.0/files/99999999", {}, 404),
    ("GET", "/2.0/files/abc", {}, 404),
    ("GET", "/2.0/files/123456789012345678901234567890", {}, 404),
    ("GET", "/2.0/files/99999999/content", {}, 404),
    ("GET", "/2.0/users/99999999", {}, 404),
    ("GET", "/2.0/users", {}, 403),
    ("GET", "/2.0/events?stream_position=yesterday", {}, 400),
    ("GET", "/2.0/events?stream_type=everything", {}, 400),
    ("GET", "/2.0/events?limit=5000", {}, 400),
    ("GET", "/2.0/no/such/endpoint", {}, 404),
    ("PATCH", "/2.0/folders/0", {}, 405),
    ("POST", "/2.0/folders", {"data": "{not json"}, 400),
    ("POST", "/2.0/folders", {"data": "[1, 2]"}, 400),
    ("POST", "/2.0/folders", {"json": {}}, 400),
    ("POST", "/2.0/folders", {"json": {"name": 5, "parent": {"id": "0"}}}, 400),
    ("POST", "/2.0/folders", {"json": {"name": "x", "parent": "0"}}, 400),
    ("POST", "/2.0/folders", {"json": {"name": "x", "parent": {"id": ["0"]}}}, 400),
    ("POST", "/2.0/folders", {"json": {"name": "x", "parent": {"id": "424242424"}}}, 404),
    ("POST", "/2.0/folders", {"data": b"\xff\xfe\x00garbage"}, 400),
    ("PUT", "/2.0/folders/0", {"json": {"name": "root"}}, 400),
    ("PUT", "/2.0/files/99999999", {"json": {"name": "x"}}, 404),
    ("POST", "/api/2.0/files/content", {"data": "not multipart"}, 400),
    ("POST", "/api/2.0/files/content", {"files": [("file", ("a", b"x"))]}, 400),
    (
        "POST",
        "/api/2.0/files/content",
        {"files": [("attributes", (None, "{bad")), ("file", ("a", b"x"))]},
        400,
    ),
    (
        "POST",
        "/api/2.0/files/content",
        {"files": [("file", ("a", b"x")), ("attributes", (None, '{"name": "a", "parent": {"id": "0"}}'))]},
        400,
    ),
    (
        "POST",
        "/api/2.0/files/content",
        {
            "files": [
                (
                    "attributes",
                    (None, '{"name": "t.txt", "parent": {"id": "0"}, "content_modified_at": "last tuesday"}'),
                ),
                ("file", ("a", b"x")),
            ]
        },
        400,
    ),
    ("OPTIONS", "/2.0/files/content", {"json": {"name": "x", "size": "big", "parent": {"id": "0"}}}, 400),
    (
        "POST",
        "/api/2.0/files/upload_sessions",
        {"json": {"folder_id": "0", "file_size": -1, "file_name": "x"}},
        400,
    ),
    (
        "POST",
        "/api/2.0/files/upload_sessions",
        {"json": {"folder_id": "0", "file_size": "1", "file_name": "x"}},
        400,
    ),
    ("PUT", "/api/2.0/files/upload_sessions/NOPE", {"data": b"x"}, 404),
    ("POST", "/2.0/collaborations", {"json": {"item": {"type": "folder", "id": "0"}}}, 400),
    (
        "POST",
        "/2.0/collaborations",
        {
            "json": {
                "item": {"type": "folder", "id": "999999"},
                "accessible_by": {"type": "user", "id": "1"},
                "role": "editor",
            }
        },
        404,
    ),
    ("POST", "/2.0/comments", {"json": {"message": 3}}, 400),
    ("POST", "/2.0/web_links", {"json": {"url": "ftp://x", "parent": {"id": "0"}}}, 400),
    ("GET", "/2.0/files/1/metadata/bogus_scope/x", {}, 404),
    ("GET", "/2.0/collaborations/abc", {}, 404),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_bad_input_is_a_box_error(sandbox: SandboxServer, token: str, method, path, kwargs, status) -> None:
    resp = requests.request(
        method,
        sandbox.url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        allow_redirects=False,
        **kwargs,
    )
    assert resp.status_code == status, resp.text[:300]
    body = resp.json()
    assert ERROR_KEYS <= set(body) and body["type"] == "error" and body["status"] == status
    assert "Traceback" not in resp.text


@pytest.mark.parametrize(
    ("path", "kwargs", "code"),
    [
        ("/2.0/folders/0/items?limit=abc", {}, "invalid_limit"),
        ("/2.0/folders/0/items?offset=x", {}, "invalid_offset"),
        (
            "/api/2.0/files/content",
            {"files": [("file", ("a", b"x")), ("attributes", (None, '{"name": "a"}'))]},
            "metadata_after_file_contents",
        ),
    ],
)
def test_box_error_codes(sandbox: SandboxServer, token: str, path: str, kwargs: dict, code: str) -> None:
    method = "POST" if kwargs else "GET"
    resp = requests.request(
        method, sandbox.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs
    )
    assert resp.status_code == 400 and resp.json()["code"] == code


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic abc", "Bearer " + "x" * 5000])
def test_bad_tokens_are_401(sandbox: SandboxServer, header: str) -> None:
    resp = requests.get(
        f"{sandbox.url}/2.0/folders/0", headers={"Authorization": header} if header else {}, timeout=10
    )
    assert resp.status_code == 401
    assert resp.json()["code"] == "unauthorized"


def test_bad_as_user_headers(sandbox: SandboxServer) -> None:
    admin = sandbox.developer_token(sandbox.admin_user_id)
    for value, status in (("abc", 404), ("-1", 404), ("99999999999999999999999", 404)):
        resp = requests.get(
            f"{sandbox.url}/2.0/users/me",
            timeout=10,
            headers={"Authorization": f"Bearer {admin}", "As-User": value},
        )
        assert resp.status_code == status and resp.json()["type"] == "error"


def test_no_server_errors_were_answered(sandbox: SandboxServer, token: str) -> None:
    by_status = sandbox.stats()["requests_by_status"]
    assert "500" not in by_status, by_status


def test_restoring_a_trashed_folder_checks_the_new_name(sandbox: SandboxServer, token: str) -> None:
    """Files and folders share one restore handler: a non-string name is a 400 for both, never ignored."""
    auth = {"Authorization": f"Bearer {token}"}
    made = requests.post(
        sandbox.url + "/2.0/folders",
        json={"name": "to be restored", "parent": {"id": "0"}},
        headers=auth,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    folder = made.json()["id"]
    assert requests.delete(f"{sandbox.url}/2.0/folders/{folder}", headers=auth, timeout=10).status_code == 204
    restore = f"{sandbox.url}/2.0/folders/{folder}"
    bad = requests.post(restore, json={"name": 5}, headers=auth, timeout=10)
    assert bad.status_code == 400 and bad.json()["type"] == "error"
    good = requests.post(restore, json={"name": "back"}, headers=auth, timeout=10)
    assert good.status_code == 201 and good.json()["name"] == "back"
    # the sandbox is shared by the module's tests: leave the user's root as it was
    assert requests.delete(restore, headers=auth, timeout=10).status_code == 204
    assert requests.delete(restore + "/trash", headers=auth, timeout=10).status_code == 204
