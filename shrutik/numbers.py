"""Numbers in the reader's script: a Bangla page writes ১২.৫, not 12.5.

Django formats numbers and dates by locale (separators, month names) but
always with Latin digits, so a Bangla page mixed both. Pages pass figures,
dates and times through ``localize_digits`` (the ``digits`` and ``num``
template filters); JavaScript does the same with ``Intl.NumberFormat`` of the
page's language (static/js/strings.js).
"""

from __future__ import annotations

from django.utils.translation import get_language

# Languages whose numbers are written with their own digits, 0 to 9.
NATIVE_DIGITS = {
    "bn": "০১২৩৪৫৬৭৮৯",
}
_TABLES = {lang: str.maketrans("0123456789", digits) for lang, digits in NATIVE_DIGITS.items()}


def localize_digits(text, language: str | None = None) -> str:
    """``text`` with its ASCII digits in the script of ``language`` (default: the
    active language); unchanged for languages written with Latin digits."""
    code = (language or get_language() or "").split("-")[0]
    table = _TABLES.get(code)
    return str(text) if table is None else str(text).translate(table)
