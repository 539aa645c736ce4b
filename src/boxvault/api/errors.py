from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from boxvault.core.errors import ServiceError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Service refusals and model validation become 400s with their message, not 500s."""
    if isinstance(exc, ServiceError):
        exc = exceptions.ValidationError({"detail": str(exc)})
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError({"detail": exc.messages})
    response = drf_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        # A field's messages also get one `detail` sentence, so every refusal reads the same way.
        response.data = {"detail": _first(response.data), **response.data}
    return response


def _first(errors: Any) -> str:
    if isinstance(errors, dict) and errors:
        field, messages = next(iter(errors.items()))
        inner = _first(messages)
        return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(errors, list) and errors:
        return _first(errors[0])
    return str(errors)
