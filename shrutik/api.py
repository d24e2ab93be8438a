"""API-wide plumbing: one error shape for every client error, strict input, parsers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.validators import RegexValidator
from django.http import JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from shrutik.exceptions import ApplicationError

# What ``shrutik.health.unavailable_dependency`` names, as a client reads it.
_DEPENDENCIES = {
    "database": gettext_lazy("database"),
    "file storage": gettext_lazy("file storage"),
    "task queue": gettext_lazy("task queue"),
}


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error structure into "field: message" lines."""
    if isinstance(errors, dict):
        lines: list[str] = []
        for key, value in errors.items():
            # str(): list items are keyed by index, and index 0 must not read as "no name"
            name = str(key) if key != api_settings.NON_FIELD_ERRORS_KEY else ""
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
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.detail}, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return _request_too_big_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return _unavailable_response(exc)
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        lines = _flatten(data)
        response.data = {"detail": "; ".join(lines) or _("Invalid input."), "errors": data}
    elif isinstance(response.data, list):
        response.data = {"detail": "; ".join(_flatten(response.data))}
    return response


def _request_too_big_response(exc: Exception) -> Response:
    """Django refuses these while reading the body; say which limit was crossed."""
    if isinstance(exc, RequestDataTooBig):
        detail = _(
            "The request body is over the {limit} limit (uploaded files do not count toward it)."
        ).format(limit=filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        return Response({"detail": detail}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        detail = _("Too many files in one request: at most {limit}.").format(limit=limit)
    else:
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        detail = _("Too many fields in one request: at most {limit}.").format(limit=limit)
    return Response({"detail": detail}, status=status.HTTP_400_BAD_REQUEST)


def _unavailable_response(exc: Exception) -> Response | None:
    """A dependency that is down is a 503 the client may retry, not a 500."""
    from shrutik.health import unavailable_dependency

    dependency = unavailable_dependency(exc)
    if dependency is None:
        return None
    import logging

    logging.getLogger("shrutik.api").warning("%s unavailable: %r", dependency, exc)
    return Response(
        {
            "detail": _("The {dependency} is unavailable right now; try again in a minute.").format(
                dependency=_DEPENDENCIES.get(dependency, dependency)
            )
        },
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "60"},
    )


def api_error(detail: str, status_code: int, **extra: Any) -> Response:
    return Response({"detail": detail, **extra}, status=status_code)


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"detail": _("Not found.")}, status=status.HTTP_404_NOT_FOUND)


def json_bad_request(request, exception=None) -> JsonResponse:
    """Django's own 400s (an unknown Host header, a suspicious request), in the API's shape."""
    return JsonResponse({"detail": _("Malformed request.")}, status=status.HTTP_400_BAD_REQUEST)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(
        {"detail": _("Internal server error; the failure has been logged.")},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know: a misspelt or misplaced option must not be
    silently ignored (``languages`` at the top of an export request instead of
    under ``filters`` would export every language). The schema says so too
    (``additionalProperties: false``, see ``AutoSchema``)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            known = [name for name, field in self.fields.items() if not field.read_only]
            unknown = sorted(set(data) - set(known))
            if unknown:
                message = _("Unknown option(s): {unknown}. Known: {known}.").format(
                    unknown=", ".join(unknown), known=", ".join(known)
                )
                # Keyed, because a top-level serializer does not wrap what its
                # own to_internal_value raises.
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
        return super().to_internal_value(data)


class ErrorOutput(serializers.Serializer):
    """The body of every 4xx/5xx answer from the API."""

    detail = serializers.CharField(help_text="What went wrong and what to do about it.")
    errors = serializers.JSONField(
        required=False, help_text="Field-level messages (invalid input only)."
    )


_ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `detail` says what to fix.",
    "401": "Missing, invalid or expired credentials.",
    "403": "Authenticated, but not allowed (role, consent, or CSRF for session logins).",
    "404": "No such object visible to you (or no such page).",
    "415": "Unsupported media type.",
    "429": "Too many requests; retry after the `Retry-After` header's seconds.",
    "503": "A service the platform depends on is down; retry after `Retry-After` seconds.",
}


# DRF refuses NUL in every text field (PostgreSQL cannot store it); patterns of
# our own (usernames, language codes, versions) already leave it out. Blank is
# stated apart (minLength, or drf-spectacular's blank alternative, which must
# be the only one an empty string matches).
NO_NUL_CHARACTERS = r"^[^\u0000]+$"
# ... and where blank is refused, DRF strips the text first: whitespace alone is
# blank. The class is what str.strip() removes, spelt out because ECMA's \s
# (which schema validators use) is another set.
_STRIPPED = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_NO_NUL = rf"^[{_STRIPPED}]*[^{_STRIPPED}\u0000][^\u0000]*$"
# A BCP-47 language tag such as "bn" or "en-US".
LANGUAGE_CODE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


@extend_schema_field({"type": "string", "pattern": LANGUAGE_CODE_PATTERN, "maxLength": 35})
class LanguageCodeField(serializers.CharField):
    """A language code. The schema states its form; whether such a language
    exists is the view's to say (no length validator: a subclass may resolve
    the code to a Language before validators run)."""


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error answers each operation really gives.

    Errors come from the same few places for every view (authentication,
    permissions, throttles, parsers, path lookups, validation), so they are
    derived from the view here rather than repeated on every endpoint; views
    still declare their own extra codes (409, 413, ...) with ``extend_schema``.
    All of them share the ``ErrorOutput`` shape that ``exception_handler`` makes.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorOutput, description=_ERROR_DESCRIPTIONS[code]), code
                )
        for code, response in responses.items():
            # Codes declared by a view with only a description still carry the shape.
            if code >= "400" and "content" not in response:
                filled = self._get_response_for_code(ErrorOutput, code)
                response["content"] = filled["content"]
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or not isinstance(schema, dict):
            return schema
        # Constraints DRF enforces that drf-spectacular leaves out.
        if (
            isinstance(field, serializers.ListField | serializers.MultipleChoiceField)
            and not field.allow_empty
            and schema.get("type") == "array"
        ):
            schema.setdefault("minItems", 1)
        if (
            isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
            # drf-spectacular writes a RegexValidator's pattern after this
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            blank_refused = not field.allow_blank and field.trim_whitespace
            schema["pattern"] = NOT_BLANK_NO_NUL if blank_refused else NO_NUL_CHARACTERS
        return schema

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(force_instance(serializer), StrictInput):
            schema["additionalProperties"] = False
        return schema

    def _error_codes(self, operation: dict) -> list[str]:
        from rest_framework_simplejwt.views import TokenViewBase

        view = self.view
        codes = []
        params = operation.get("parameters", [])
        has_body = "requestBody" in operation
        if has_body or any(p["in"] == "query" and p["name"] != "page" for p in params):
            codes.append("400")
        # An Authorization header that does not verify is refused even where
        # anonymous access is allowed; the token views refuse bad credentials.
        if view.get_authenticators() or isinstance(view, TokenViewBase):
            codes.append("401")
        if any(not isinstance(p, AllowAny) for p in view.get_permissions()):
            codes.append("403")
        if any(p["in"] == "path" for p in params) or any(p["name"] == "page" for p in params):
            codes.append("404")
        if has_body:
            codes.append("415")
        if view.get_throttles():
            codes.append("429")
        codes.append("503")  # exception_handler's answer when the database or cache is down
        return codes
