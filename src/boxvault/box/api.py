"""Raw JSON calls through the SDK client (`BoxClient.make_request`): same auth, retries, rate limit and
counters as the typed managers, without deserialising thousands of entries into SDK objects that we
would turn back into dicts anyway."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from box_sdk_gen.client import BoxClient
from box_sdk_gen.networking.fetch_options import FetchOptions, ResponseFormat


def _request_json(
    client: BoxClient,
    method: str,
    path: str,
    params: Mapping[str, str | int | None] | None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    query = {k: str(v) for k, v in (params or {}).items() if v is not None}
    response = client.make_request(
        FetchOptions(
            url=client.network_session.base_urls.base_url + path,
            method=method,
            params=query,
            data=body,
            content_type="application/json",
            response_format=ResponseFormat.JSON,
        )
    )
    data = response.data
    return data if isinstance(data, dict) else {}


def get_json(
    client: BoxClient, path: str, params: Mapping[str, str | int | None] | None = None
) -> dict[str, Any]:
    return _request_json(client, "GET", path, params)


def put_json(
    client: BoxClient,
    path: str,
    body: dict[str, Any],
    params: Mapping[str, str | int | None] | None = None,
) -> dict[str, Any]:
    return _request_json(client, "PUT", path, params, body)


def post_json(
    client: BoxClient,
    path: str,
    body: dict[str, Any],
    params: Mapping[str, str | int | None] | None = None,
) -> dict[str, Any]:
    return _request_json(client, "POST", path, params, body)


def iter_marker_pages(
    client: BoxClient, path: str, params: Mapping[str, str | int | None], limit: int = 1000
) -> Iterator[list[dict[str, Any]]]:
    """Marker paging (`usemarker=true`, `next_marker`) as Box recommends for large collections."""
    marker: str | None = None
    while True:
        page = get_json(client, path, {**params, "usemarker": "true", "limit": limit, "marker": marker})
        entries = page.get("entries") or []
        yield [e for e in entries if isinstance(e, dict)]
        marker = page.get("next_marker") or None
        if not marker or not entries:
            return


def iter_offset_pages(
    client: BoxClient, path: str, params: Mapping[str, str | int | None], limit: int = 1000
) -> Iterator[list[dict[str, Any]]]:
    offset = 0
    while True:
        page = get_json(client, path, {**params, "offset": offset, "limit": limit})
        entries = [e for e in page.get("entries") or [] if isinstance(e, dict)]
        yield entries
        offset += len(entries)
        total = page.get("total_count")
        if not entries or (isinstance(total, int) and offset >= total):
            return
