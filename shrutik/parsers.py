"""The API's parsers: DRF's, refusing what they would fail on or garble.

Kept apart from shrutik.api: DRF reads the parser setting while defining
APIView, so this module must not import anything that imports DRF's views.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# No input of ours nests deeper than a few levels; a few thousand bytes of
# brackets would otherwise exhaust the decoder's recursion (a RecursionError).
MAX_JSON_DEPTH = 32
# What a decoder puts where bytes were not UTF-8 (Django's form parsers replace
# them silently); no field of ours legitimately carries it.
REPLACEMENT_CHARACTER = "\ufffd"


def _nested_deeper_than(data: dict | list, limit: int) -> bool:
    """Whether ``data`` nests lists or objects more than ``limit`` levels (no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        _("The JSON body is nested more than {limit} levels deep.").format(limit=MAX_JSON_DEPTH)
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a 400 instead of a 500 for deeply nested bodies."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if isinstance(data, dict | list) and _nested_deeper_than(data, MAX_JSON_DEPTH):
            raise _too_deep()
        return data


def _refuse_undecodable(data) -> None:
    for name, values in data.lists():
        if REPLACEMENT_CHARACTER in name or any(REPLACEMENT_CHARACTER in v for v in values):
            raise exceptions.ParseError(
                _("The form field {name} is not valid UTF-8.").format(name=name)
            )


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing text that is not UTF-8 as the JSON parser does."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse_undecodable(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing text fields that are not UTF-8 (files are bytes)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_undecodable(parsed.data)
        return parsed
