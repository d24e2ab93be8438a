"""Template filters for numbers in the reader's script (shrutik/numbers.py)."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat

from shrutik.numbers import localize_digits

register = template.Library()


@register.filter(is_safe=True)
def digits(value) -> str:
    """Any text (a date, a formatted figure) with the page language's digits."""
    if value is None or value == "":
        return value
    return localize_digits(value)


@register.filter(is_safe=True)
def num(value, decimals=None) -> str:
    """A number with ``decimals`` places (as ``floatformat``; none: as it is),
    in the page language's digits."""
    if value is None or value == "":
        return value
    text = str(value) if decimals is None else floatformat(value, decimals)
    return localize_digits(text)
