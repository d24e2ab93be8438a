"""The API's parsers: DRF's, refusing what they would fail on or garble.

Kept apart from shrutik.api: DRF reads the parser setting while defining
APIView, so this module must not import anything that imports DRF's views.
"""

from __future__ import annotations

import codecs
import io
from urllib.parse import parse_qsl

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# No input of ours nests deeper than a few levels; a few thousand bytes of
# brackets would otherwise exhaust the decoder's recursion (a RecursionError).
MAX_JSON_DEPTH = 32


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


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _not_utf8() -> exceptions.ParseError:
    return exceptions.ParseError(_("Form fields must be valid UTF-8 text."))


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing text that is not UTF-8 as the JSON parser does.

    Django's QueryDict replaces what does not decode (or falls back to
    Latin-1 for the whole body), so the text is checked strictly first.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        data = super().parse(io.BytesIO(body), media_type, parser_context)
        if _is_utf8(parsers.get_encoding(parser_context or {})):
            try:
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
            except UnicodeDecodeError:
                raise _not_utf8() from None
        return data


# Django's multipart parser decodes text fields with errors="replace", storing
# U+FFFD where the bytes were not UTF-8 (so a real U+FFFD cannot tell them
# apart afterwards). This codec is UTF-8 that refuses such bytes whatever error
# handling its caller asks for.
STRICT_UTF8 = "shrutik_strict_utf_8"


def _strict_utf8_codec(name: str) -> codecs.CodecInfo | None:
    if name != STRICT_UTF8:
        return None
    utf8 = codecs.lookup("utf-8")
    return codecs.CodecInfo(
        name=STRICT_UTF8,
        encode=utf8.encode,
        decode=lambda data, errors="strict": utf8.decode(data, "strict"),
        incrementalencoder=utf8.incrementalencoder,
        incrementaldecoder=utf8.incrementaldecoder,
        streamreader=utf8.streamreader,
        streamwriter=utf8.streamwriter,
    )


codecs.register(_strict_utf8_codec)


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing text fields that are not UTF-8 (files are bytes)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = dict(parser_context or {})
        if _is_utf8(parsers.get_encoding(parser_context)):
            parser_context["encoding"] = STRICT_UTF8
        try:
            return super().parse(stream, media_type, parser_context)
        except UnicodeDecodeError:
            raise _not_utf8() from None
