"""Request ids: one id per request, in its response header, its logs and its tasks.

A support question ("my upload failed at 10:42") is answered by grepping one id
across the web and worker logs. The id comes from the client or proxy
(``X-Request-ID``) when it is sane, otherwise it is generated; it is echoed in
the response, added to every log record by ``RequestIdFilter``, and carried in
the headers of Celery tasks published while handling the request, so the
worker's log lines for that task carry it too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
TASK_HEADER = "request_id"
# Anything else (spaces, newlines, quotes, very long values) could forge or
# break log lines, so it is replaced rather than trusted.
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None):
    return _request_id.set(value)


def request_id_from_header(value: str | None) -> str:
    if value and SANE_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside requests and tasks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or "-"
        return True


access_logger = logging.getLogger("shrutik.access")


class RequestIdMiddleware:
    """Gives the request its id and writes its access line.

    The access line is written here rather than by the web server, so it goes
    through the app's logging (JSON in the deployed shape) with the request
    id, and it carries the path without its query string, where a client may
    have put a token.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request_id_from_header(request.headers.get(HEADER))
        request.request_id = request_id
        # Cleared on request_finished rather than here: Django logs the
        # response (4xx/5xx warnings) after the middleware chain has returned.
        set_request_id(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        if access_logger.isEnabledFor(logging.INFO):
            status = response.status_code
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "bytes": None if response.streaming else len(response.content),
                    "remote": request.META.get("REMOTE_ADDR", ""),
                },
            )
        return response


class ClientErrorFilter(logging.Filter):
    """Drops the traceback from Django's log line for a 4xx (a page someone may
    not see, a page that is not there): the client's mistake, not the code's,
    so one line says it. 5xx records keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


def _clear_request_id(**kwargs) -> None:
    set_request_id(None)


def _add_request_id_to_task(headers=None, **kwargs) -> None:
    request_id = _request_id.get()
    if request_id and headers is not None and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


def _task_started(task=None, **kwargs) -> None:
    request = getattr(task, "request", None)
    # A worker exposes custom message headers as request attributes and under
    # ``request.headers``; eager ``apply(headers=...)`` only under the latter.
    value = getattr(request, TASK_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        TASK_HEADER
    )
    set_request_id(value if isinstance(value, str) and SANE_ID.match(value) else None)


def _task_finished(**kwargs) -> None:
    set_request_id(None)


# Credentials a client may put in a URL's query string: the live-recording
# WebSocket accepts ``?token=<access token>``, and the ASGI server logs every
# socket's path with its query.
_SECRET_IN_QUERY = re.compile(r"([?&](?:token|access|refresh)=)[^&\s\"']+", re.IGNORECASE)
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "gunicorn.access", "gunicorn.error")


def redact_query_secrets(text: str) -> str:
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


def _redacted(value):
    return redact_query_secrets(value) if isinstance(value, str) and "=" in value else value


class SecretQueryFilter(logging.Filter):
    """Replaces query-string credentials in a record's message and arguments.

    Attached to the servers' own loggers, whose access lines carry the raw
    path and query (``"WebSocket /ws/live/?token=..." [accepted]``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact_query_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            # gunicorn's access line: a format of named atoms (%(r)s, %(q)s...).
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def redact_server_logs() -> None:
    """Filter the web servers' loggers: query-string tokens and configured
    secrets (an application error's traceback goes to ``uvicorn.error``). A
    filter on the logger, not a handler: the uvicorn worker hands its loggers
    gunicorn's handlers, which Django's logging configuration must not replace."""
    from shrutik.redaction import RedactSecretsFilter

    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        for kind in (SecretQueryFilter, RedactSecretsFilter):
            if not any(isinstance(f, kind) for f in logger.filters):
                logger.addFilter(kind())


def connect_signals() -> None:
    """Wire the id into Django's request cycle and Celery's publish/run cycle."""
    from celery.signals import before_task_publish, task_postrun, task_prerun
    from django.core.signals import request_finished

    request_finished.connect(_clear_request_id, dispatch_uid="shrutik-request-id-clear")
    before_task_publish.connect(_add_request_id_to_task, dispatch_uid="shrutik-request-id-task")
    task_prerun.connect(_task_started, dispatch_uid="shrutik-request-id-task-start")
    task_postrun.connect(_task_finished, dispatch_uid="shrutik-request-id-task-end")
