"""Suite-wide fixtures: real PostgreSQL, Redis and an S3-compatible HTTP endpoint."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

S3_BUCKET = "shrutik-test"
# Set by .ci/run: CI runs every lane, so a skipped test fails the run. A skip
# means a lane did not run (no Chromium, missing data), which must not pass
# unnoticed; locally, skips stay skips and -ra lists them.
FAIL_ON_SKIP = os.environ.get("SHRUTIK_FAIL_ON_SKIP") == "1"
_skipped: list[str] = []


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _django_enabled(config) -> bool:
    # The framework-free engines' tests also run with `-p no:django`.
    return config.pluginmanager.hasplugin("django")


def pytest_sessionstart(session):
    if not _django_enabled(session.config):
        return
    from django.conf import settings

    missing = []
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql") and not _reachable(
        f"//{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}", 5432
    ):
        missing.append(
            "PostgreSQL at 127.0.0.1:5432 — start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    if settings.REDIS_URL and not _reachable(settings.REDIS_URL, 6379):
        missing.append(
            "Redis at 127.0.0.1:6379 — start it with: redis-server --daemonize yes "
            '--bind 127.0.0.1 --port 6379 --save "" --appendonly no'
        )
    if missing:
        pytest.exit(
            "The tests need these services, which are not reachable:\n  - "
            + "\n  - ".join(missing)
            + "\n(or point DATABASE_URL / REDIS_URL at running servers)",
            returncode=3,
        )


def _note_skip(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report):
    _note_skip(report)


def pytest_collectreport(report):
    _note_skip(report)


def pytest_sessionfinish(session, exitstatus):
    if FAIL_ON_SKIP and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if FAIL_ON_SKIP and _skipped:
        terminalreporter.section("skipped tests fail the run (SHRUTIK_FAIL_ON_SKIP=1)", red=True)
        for line in _skipped:
            terminalreporter.line(line, red=True)


@pytest.fixture(scope="session")
def s3_server():
    """moto's threaded server: a real HTTP endpoint speaking the S3 protocol."""
    import boto3
    from moto.server import ThreadedMotoServer

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket=S3_BUCKET
    )
    yield {"endpoint_url": endpoint, "bucket": S3_BUCKET}
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _s3_storage(request):
    """Every test stores files in the S3 test endpoint, as a deployment would."""
    if not _django_enabled(request.config):
        yield
        return
    s3_server = request.getfixturevalue("s3_server")
    from django.conf import settings
    from django.test.utils import override_settings

    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "shrutik.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": s3_server["bucket"],
            "endpoint_url": s3_server["endpoint_url"],
            "region_name": "us-east-1",
            "access_key": "testing",
            "secret_key": "testing",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 600,
            "file_overwrite": False,
            "addressing_style": "path",
            "signature_version": "s3v4",
        },
    }
    override = override_settings(STORAGES=storages, STORAGE_BACKEND="s3")
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _clean_cache(request):
    """Throttle counters and heartbeats must not leak between tests."""
    if not _django_enabled(request.config):
        yield
        return
    from django.conf import settings
    from django.core.cache import cache

    from recordings.selectors import language_cache_clear

    # Only this run's keys: other runs may share the Redis database.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    language_cache_clear()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    from contributors.tests.factories import UserFactory

    def make(**kwargs):
        return UserFactory(**kwargs)

    return make


@pytest.fixture
def contributor(make_user):
    return make_user()


@pytest.fixture
def reviewer(make_user):
    return make_user(roles=["contributor", "reviewer"])


@pytest.fixture
def researcher(make_user):
    return make_user(roles=["contributor", "researcher"])


@pytest.fixture
def auth_client(api_client, contributor):
    api_client.force_authenticate(contributor)
    api_client.user = contributor
    return api_client


@pytest.fixture
def worker(transactional_db, s3_server):
    """A real Celery worker process sharing the test database, broker and S3."""
    from django.db import connection

    from shrutik.testing import worker_process

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        "DATABASE_URL": url,
        "AWS_STORAGE_BUCKET_NAME": s3_server["bucket"],
        "AWS_S3_ENDPOINT_URL": s3_server["endpoint_url"],
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    with worker_process(env) as proc:
        yield proc


@pytest.fixture(scope="session", autouse=True)
def _end_stray_connections(request):
    """Close connections left by live-server threads and killed workers, so the
    test database can be dropped at the end instead of piling up on the machine.

    Depends on ``django_db_setup`` so that this teardown runs before its drop.
    """
    if not _django_enabled(request.config):
        yield
        return
    request.getfixturevalue("django_db_setup")
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    blocker = request.getfixturevalue("django_db_blocker")
    try:
        with blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    except Exception:  # a best effort: never fail the run over cleanup
        pass
