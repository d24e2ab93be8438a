"""Configured secrets never leave the process as text.

Every value read through ``secret()`` in settings (``SECRET_VALUES``: keys,
tokens, URLs with passwords and those passwords alone) is replaced by
``[redacted]`` in log records (the app's handler and the web servers' own
loggers), in the health answers' error texts and in Django's error reports
(the DEBUG page and ``mail_admins``), whichever library put it there: a
driver message quoting a URL, a traceback's local variables, a setting.
"""

from __future__ import annotations

import html
import json
import logging
import traceback

from django.views.debug import ExceptionReporter

REDACTED = "[redacted]"


def _forms(value: str) -> set[str]:
    # As written in JSON log lines and in HTML pages, not only as is.
    return {value, json.dumps(value)[1:-1], html.escape(value)}


def redact(text: str) -> str:
    from django.conf import settings

    values = getattr(settings, "SECRET_VALUES", None)
    if not values or not text:
        return text
    # Longest first: a URL goes as a whole before its password is looked for.
    for value in sorted(values, key=len, reverse=True):
        for form in _forms(value):
            if form in text:
                text = text.replace(form, REDACTED)
    return text


class RedactSecretsFilter(logging.Filter):
    """Redacts a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logged as it is
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            # Formatters print exc_text when there is no exc_info to format.
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class SecretRedactingExceptionReporter(ExceptionReporter):
    """Django's error report (DEBUG page, admin mails) with the secrets taken out:
    settings and request metadata are cleansed by key name, but a Redis URL
    with a password, a local variable or an exception message are not."""

    def get_traceback_html(self):
        return redact(str(super().get_traceback_html()))

    def get_traceback_text(self):
        return redact(str(super().get_traceback_text()))
