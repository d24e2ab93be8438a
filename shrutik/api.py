"""API-wide plumbing: one error shape for every client error."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error structure into "field: message" lines."""
    if isinstance(errors, dict):
        lines: list[str] = []
        for key, value in errors.items():
            name = key if key != "non_field_errors" else ""
            lines += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return lines
    if isinstance(errors, list):
        lines = []
        for item in errors:
            lines += _flatten(item, prefix)
        return lines
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a human-readable ``detail`` on validation errors.

    Clients always find a ``detail`` string saying what to fix; field-level errors
    stay available under ``errors`` for forms that highlight fields.
    """
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        lines = _flatten(data)
        response.data = {"detail": "; ".join(lines) or "Invalid input.", "errors": data}
    elif isinstance(response.data, list):
        response.data = {"detail": "; ".join(_flatten(response.data))}
    return response


def api_error(detail: str, status_code: int, **extra: Any) -> Response:
    return Response({"detail": detail, **extra}, status=status_code)


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(
        {"detail": "Internal server error; the failure has been logged."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
