from __future__ import annotations

from typing import Any

from rest_framework.renderers import BaseRenderer


class CSVRenderer(BaseRenderer):
    """Lets `?format=csv` through content negotiation; list views stream the rows themselves, so this only
    renders what is left: error bodies."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, dict):
            return "\n".join(f"{k}: {v}" for k, v in data.items()).encode()
        return str(data or "").encode()
