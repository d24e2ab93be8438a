"""A Redis cache that degrades instead of failing requests when Redis is down.

The cache only holds what can be lost: throttle counters, the worker heartbeat,
cached statistics. During a Redis outage reads miss and writes are dropped, so
uploads and transcriptions keep being accepted (throttles fail open until Redis
is back) rather than every request answering 500.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
# One warning per interval per process: an outage must not flood the logs.
WARN_EVERY_SECONDS = 30.0


class ResilientRedisCache(RedisCache):
    _last_warning = 0.0

    def _unavailable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - ResilientRedisCache._last_warning >= WARN_EVERY_SECONDS:
            ResilientRedisCache._last_warning = now
            logger.warning("Cache unavailable (%s skipped): %s", operation, exc)

    def _guarded(self, operation: str, fallback, call, *args):
        """``call(*args)``, or ``fallback`` (with a rate-limited warning) when
        Redis cannot be reached."""
        try:
            return call(*args)
        except UNAVAILABLE as exc:
            self._unavailable(operation, exc)
            return fallback

    def get(self, key, default=None, version=None):
        return self._guarded("get", default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._guarded("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._guarded("has_key", False, super().has_key, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._guarded("set", None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # On failure every key counts as not set, as Django's contract says.
        return self._guarded("set_many", list(data), super().set_many, data, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("add", False, super().add, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._guarded("delete", False, super().delete, key, version)
