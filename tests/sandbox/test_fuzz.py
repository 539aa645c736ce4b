"""Random requests (hypothesis) never get a 5xx, and every error is Box's error object."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.sandbox import SandboxServer, running_sandbox


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, str]]:
    """A sandbox of its own: random DELETEs and PUTs must not disturb the other tests' data."""
    with running_sandbox(tmp_path_factory.mktemp("fuzz"), users=1, files_per_user=30, seed=5) as sb:
        yield sb, sb.developer_token(sb.users[0]["id"])


IDS = st.one_of(
    st.sampled_from(["0", "1", "2", "99999999", "-1", "abc", "1e3", "²", "%20", "999999999999999999999999"]),
    st.integers(min_value=0, max_value=10**6).map(str),
)
PATHS = st.sampled_from(
    [
        "/2.0/folders/{id}",
        "/2.0/folders/{id}/items",
        "/2.0/files/{id}",
        "/2.0/files/{id}/content",
        "/2.0/files/{id}/versions",
        "/2.0/files/{id}/trash",
        "/2.0/folders/{id}/trash",
        "/2.0/users/{id}",
        "/2.0/users",
        "/2.0/events",
        "/2.0/folders",
        "/2.0/collaborations/{id}",
        "/2.0/collaborations",
        "/2.0/comments",
        "/2.0/comments/{id}",
        "/2.0/web_links",
        "/2.0/web_links/{id}",
        "/2.0/files/{id}/metadata",
        "/2.0/folders/{id}/metadata/global/properties",
        "/api/2.0/files/content",
        "/api/2.0/files/{id}/content",
        "/api/2.0/files/upload_sessions",
        "/api/2.0/files/upload_sessions/{id}",
        "/2.0/files/content",
        "/2.0/folders/trash/items",
        "/2.0/files/{id}/comments",
        "/2.0/folders/{id}/collaborations",
    ]
)
PARAMS = st.dictionaries(
    st.sampled_from(
        [
            "limit",
            "offset",
            "fields",
            "usemarker",
            "marker",
            "sort",
            "direction",
            "stream_position",
            "stream_type",
            "version",
            "user_type",
            "recursive",
            "filter_term",
        ]
    ),
    st.one_of(st.text(max_size=12), st.integers(-10, 10**5).map(str)),
    max_size=4,
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "parent",
                    "id",
                    "item",
                    "role",
                    "message",
                    "url",
                    "accessible_by",
                    "type",
                    "file_size",
                    "folder_id",
                    "file_name",
                    "shared_link",
                    "description",
                    "size",
                ]
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=8,
)
BODIES = st.one_of(st.none(), JSON_VALUES.map(json.dumps), st.binary(max_size=40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"]),
    path=PATHS,
    ident=IDS,
    params=PARAMS,
    body=BODIES,
)
def test_random_requests_never_fail_the_server(
    sandbox: SandboxServer, method, path, ident, params, body
) -> None:
    token = getattr(test_random_requests_never_fail_the_server, "token", None)
    if token is None:
        token = sandbox.developer_token(sandbox.users[2]["id"])
        test_random_requests_never_fail_the_server.token = token  # type: ignore[attr-defined]
    resp = requests.request(
        method,
        sandbox.url + path.replace("{id}", ident),
        params=params,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
        allow_redirects=False,
    )
    assert resp.status_code < 500, f"{method} {path} {params} {body!r}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        error = resp.json()
        assert error["type"] == "error" and error["status"] == resp.status_code and error["code"]


def test_fuzzing_left_no_server_errors(own) -> None:
    sandbox, _ = own
    assert not [k for k in sandbox.stats()["requests_by_status"] if k.startswith("5")]
