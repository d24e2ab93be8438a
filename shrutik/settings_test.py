"""Test settings: the deployed shape (PostgreSQL, Redis, S3) on this machine's services.

Any variable already set in the environment wins, so the same suite can run
against other servers. S3 points at a moto server that the test session starts
(see conftest.py).
"""

import os

# Several test runs may share one machine's PostgreSQL and Redis (developers, CI,
# benchmarks): a run id keeps their databases, cache keys and queues apart. Worker
# processes started by the tests inherit it through the environment.
RUN_ID = os.environ.setdefault("SHRUTIK_TEST_RUN", str(os.getpid()))
os.environ.setdefault("CACHE_KEY_PREFIX", f"test{RUN_ID}")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shrutik")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# The broker gets its own database: tests clear the cache between runs.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)

from shrutik.settings import *  # noqa: E402, F403
from shrutik.settings import (  # noqa: E402
    CELERY_BROKER_TRANSPORT_OPTIONS,
    DATABASES,
    REST_FRAMEWORK,
    STORAGES,
)

# Hashing cost matters in a suite that creates hundreds of users; the real
# hashers are exercised by the production settings.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "login": "1000/min",
        "register": "1000/min",
        "token_refresh": "1000/min",
    },
}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The test client and the browser tests' live server speak plain HTTP;
# shrutik/tests/test_security.py checks the deployed HTTPS settings.
SECURE_SSL_REDIRECT = False
# Tests render templates without running collectstatic first.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_shrutik_{RUN_ID}"
# The test process serves live-server and WebSocket threads besides the test
# itself; a test that measures the pool sets DB_POOL_MAX_SIZE explicitly.
if "DB_POOL_MAX_SIZE" not in os.environ:
    DATABASES["default"]["OPTIONS"]["pool"]["max_size"] = 10
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": f"test{RUN_ID}:",
}
if "replica" in DATABASES:
    # The test database is created on the primary and streams to the replica
    # under the same name: a mirror takes its NAME from the primary and keeps
    # its own host and port (shrutik/tests/test_replica.py).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    if "DB_POOL_MAX_SIZE" not in os.environ:
        DATABASES["replica"]["OPTIONS"]["pool"]["max_size"] = 10
