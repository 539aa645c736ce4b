"""One line for an error, for reports and the CLI: never the SDK's multi-line dump with headers."""

from __future__ import annotations


def describe(exc: BaseException, api_url: str | None = None) -> str:
    """One line for an SDK error: Box's own message (API or OAuth error shapes), or why it was unreachable."""
    from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

    if isinstance(exc, BoxAPIError):
        info = exc.response_info
        body = info.body if isinstance(info.body, dict) else {}
        code = info.code or body.get("error") or ""
        message = body.get("message") or body.get("error_description") or ""
        url = (exc.request_info.url or "").split("?")[0]
        return f"Box answered {info.status_code} {code}: {message} ({url})".replace("  ", " ")
    if isinstance(exc, BoxSDKError) and exc.error is not None:
        import requests

        if isinstance(exc.error, requests.ConnectionError):
            return f"cannot reach Box{' at ' + api_url if api_url else ''}: connection failed"
        return f"{type(exc.error).__name__}: {str(exc.error).splitlines()[0] if str(exc.error) else ''}"
    text = str(getattr(exc, "message", "") or exc)
    return text.splitlines()[0] if text else type(exc).__name__
