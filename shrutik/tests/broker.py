"""The real broker's queues as the tests see them: how many messages wait, and
what the newest one asks a worker to run."""

from __future__ import annotations

import base64
import json

import redis
from django.conf import settings


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _key(queue: str) -> str:
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "") + queue


def queue_length(queue: str) -> int:
    """Messages waiting in ``queue``."""
    return _client().llen(_key(queue))


def take_newest(queue: str) -> tuple[str, list, dict]:
    """Remove the newest message from ``queue``; its task name, args and kwargs.

    Kombu pushes on the left and workers pop on the right, so the left end is
    the message sent last, whatever earlier tests left queued behind it.
    """
    raw = _client().lpop(_key(queue))
    assert raw is not None, f"no message in {queue!r}"
    message = json.loads(raw)
    assert message["properties"]["body_encoding"] == "base64"
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], args, kwargs
