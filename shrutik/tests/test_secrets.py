"""Secrets from files (``NAME_FILE``), and secrets kept out of logs, health
answers and error pages. Each test loads the real settings in a subprocess,
started the way an operator starts the app."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from shrutik.testing import ROOT
from shrutik.tests.test_settings import run_settings

SECRETS = {
    "SECRET_KEY": "sk-9f8e7d6c5b4a39281706f5e4d3c2b1a0-from-a-file",
    "DATABASE_URL": "postgres://postgres:Db-Passw0rd-4711@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://:Redis-Passw0rd-0815@127.0.0.1:1/0",
    "CELERY_BROKER_URL": "redis://:Broker-Passw0rd-2342@127.0.0.1:1/1",
    "AWS_ACCESS_KEY_ID": "AKIA-ACCESS-KEY-ID-1",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-access-key-0123456789abcdef",
    "JWT_SIGNING_KEY": "jwt-signing-key-0123456789abcdef",
    "METRICS_TOKEN": "metrics-token-0123456789abcdef",
    "EXPORT_SPEAKER_KEY": "speaker-key-0123456789abcdef",
}
PASSWORDS = ("Db-Passw0rd-4711", "Redis-Passw0rd-0815", "Broker-Passw0rd-2342")


def secret_files(tmp_path, **values: str) -> dict[str, str]:
    """One file per secret, as Docker or Kubernetes mounts them (with the line
    break an ``echo`` leaves), and the ``NAME_FILE`` variables naming them."""
    folder = tmp_path / "secrets"
    folder.mkdir(exist_ok=True)
    env = {}
    for name, value in values.items():
        path = folder / name.lower()
        path.write_text(value + "\n")
        env[f"{name}_FILE"] = str(path)
    return env


def test_every_secret_setting_reads_the_file_its_FILE_variable_names(tmp_path):
    code = textwrap.dedent(
        """
        import json
        from django.conf import settings as s
        storage = s.STORAGES["default"]["OPTIONS"]
        print(json.dumps({
            "SECRET_KEY": s.SECRET_KEY,
            "DATABASE_PASSWORD": s.DATABASES["default"]["PASSWORD"],
            "REDIS_URL": s.REDIS_URL,
            "CELERY_BROKER_URL": s.CELERY_BROKER_URL,
            "AWS_ACCESS_KEY_ID": storage["access_key"],
            "AWS_SECRET_ACCESS_KEY": storage["secret_key"],
            "JWT_SIGNING_KEY": s.SIMPLE_JWT["SIGNING_KEY"],
            "METRICS_TOKEN": s.METRICS_TOKEN,
            "EXPORT_SPEAKER_KEY": s.EXPORT_SPEAKER_KEY,
            "embedded": s.EMBEDDED,
            "redacted": sorted(s.SECRET_VALUES),
        }))
        """
    )
    result = run_settings(
        tmp_path, code, AWS_STORAGE_BUCKET_NAME="bucket", **secret_files(tmp_path, **SECRETS)
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    expected = {**SECRETS, "DATABASE_PASSWORD": "Db-Passw0rd-4711"}
    del expected["DATABASE_URL"]
    assert {k: seen[k] for k in expected} == expected
    assert seen["embedded"] is False  # DATABASE_URL_FILE is a configured database
    # A URL's password is redacted on its own too, as drivers quote it.
    assert set(SECRETS.values()) | set(PASSWORDS) <= set(seen["redacted"])


def test_a_secret_set_both_ways_is_refused_naming_the_variable(tmp_path):
    files = secret_files(tmp_path, METRICS_TOKEN=SECRETS["METRICS_TOKEN"])
    result = run_settings(tmp_path, "pass", METRICS_TOKEN="other-token-value-1234", **files)
    assert result.returncode != 0
    assert "Both METRICS_TOKEN and METRICS_TOKEN_FILE are set" in result.stderr
    assert SECRETS["METRICS_TOKEN"] not in result.stderr
    assert "other-token-value-1234" not in result.stderr


def test_a_secret_file_that_cannot_be_read_is_named_without_its_contents(tmp_path):
    missing = tmp_path / "nowhere" / "secret_key"
    result = run_settings(
        tmp_path,
        "pass",
        DATABASE_URL="postgres://postgres@127.0.0.1/x",
        SECRET_KEY_FILE=str(missing),
    )
    assert result.returncode != 0
    assert f"SECRET_KEY_FILE names {missing}, which cannot be read" in result.stderr


SCENARIO = """
import json, logging
import django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings, setup_test_environment

setup_test_environment()
client = Client(raise_request_exception=False)
out = {}
with override_settings(ROOT_URLCONF="failing_urls", DEBUG=True):
    # A library error quoting a URL with its password, as drivers do.
    out["debug_page"] = client.get("/fail/").content.decode()
with override_settings(ROOT_URLCONF="failing_urls", DEBUG=False):
    out["error_page"] = client.get("/fail/").content.decode()
out["healthz"] = client.get("/healthz").content.decode()
out["ready"] = client.get("/healthz/ready").content.decode()
logging.getLogger("shrutik").warning("configured broker %s", settings.CELERY_BROKER_URL)
print(json.dumps(out))
"""

FAILING_URLS = """
from django.conf import settings
from django.urls import path


def fail(request):
    raise ConnectionError(
        f"cannot reach {settings.CELERY_BROKER_URL} or {settings.DATABASES['default']['PASSWORD']}"
    )


urlpatterns = [path("fail/", fail)]
"""


def test_secrets_never_reach_logs_health_answers_or_error_pages(tmp_path):
    (tmp_path / "failing_urls.py").write_text(FAILING_URLS)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT}:{tmp_path}",
        "DJANGO_SETTINGS_MODULE": "shrutik.settings",
        "SHRUTIK_VAR_DIR": str(tmp_path / "var"),
        "LOG_FORMAT": "json",
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "HEALTH_TIMEOUT_SECONDS": "2",
        **secret_files(tmp_path, **SECRETS),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pages = json.loads(result.stdout.strip().splitlines()[-1])
    # Each answer was really produced: the failure, the settings, the checks.
    assert "ConnectionError" in pages["debug_page"] and "CACHES" in pages["debug_page"]
    assert "Something went wrong" in pages["error_page"]  # templates/500.html
    assert json.loads(pages["healthz"])["checks"]["broker"]["ok"] is False
    assert json.loads(pages["ready"])["checks"]["broker"]["ok"] is False
    logs = result.stderr
    assert "Internal Server Error: /fail/" in logs and "configured broker" in logs
    assert "[redacted]" in pages["debug_page"] and "[redacted]" in logs
    for where, text in {**pages, "logs": logs}.items():
        for value in (*SECRETS.values(), *PASSWORDS):
            assert value not in text, f"{value} in {where}"
