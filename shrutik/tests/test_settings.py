"""Settings behave safely when started the way operators start them."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DJANGO_SETTINGS_MODULE",
    "EMAIL_URL",
    "EMAIL_HOST",
)


def run_settings(tmp_path, code: str, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in CONFIG_VARS and not k.endswith("_FILE")
    }
    clean.update({"SHRUTIK_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "shrutik.settings"})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_key_outside_embedded_default_fails_clearly(tmp_path):
    result = run_settings(tmp_path, "pass", DATABASE_URL="postgres://postgres@127.0.0.1/x")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_embedded_default_generates_and_keeps_a_secret_and_debug_is_off(tmp_path):
    code = "from django.conf import settings as s; print(s.SECRET_KEY, s.DEBUG, s.EMBEDDED)"
    first = run_settings(tmp_path, code)
    assert first.returncode == 0, first.stderr
    key, debug, embedded = first.stdout.split()
    assert len(key) >= 50 and debug == "False" and embedded == "True"
    assert run_settings(tmp_path, code).stdout.split()[0] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_embedded_default_uses_sqlite_filesystem_and_filesystem_broker(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.STORAGES['default']['BACKEND'], "
        "s.CELERY_BROKER_URL)"
    )
    result = run_settings(tmp_path, code)
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.files.storage.FileSystemStorage",
        "filesystem://",
    ]


def test_embedded_sqlite_writes_ahead_and_waits_for_a_busy_writer(tmp_path):
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "print(*(c.execute(f'PRAGMA {p}').fetchone()[0] "
        "for p in ('journal_mode', 'busy_timeout', 'synchronous')))"
    )
    result = run_settings(tmp_path, code)
    assert result.returncode == 0, result.stderr
    # synchronous 1 = NORMAL: safe with WAL, one fsync per checkpoint.
    assert result.stdout.split() == ["wal", "20000", "1"]


EMAIL_CODE = (
    "from django.conf import settings as s; "
    "print(s.EMAIL_BACKEND.rsplit('.', 2)[-2], getattr(s, 'EMAIL_HOST', '-'), "
    "getattr(s, 'EMAIL_PORT', '-'), getattr(s, 'EMAIL_USE_TLS', '-'), "
    "getattr(s, 'EMAIL_HOST_USER', '-') or '-')"
)


def test_embedded_default_prints_email_on_the_console(tmp_path):
    result = run_settings(tmp_path, EMAIL_CODE)
    assert result.stdout.split()[0] == "console", result.stderr


def test_email_goes_to_the_smtp_server_the_environment_names(tmp_path):
    url = run_settings(
        tmp_path, EMAIL_CODE, EMAIL_URL="smtp+tls://mailer:secret@smtp.example.org:587"
    )
    assert url.stdout.split() == ["smtp", "smtp.example.org", "587", "True", "mailer"], url.stderr
    host = run_settings(tmp_path, EMAIL_CODE, EMAIL_HOST="mail.example.org", EMAIL_PORT="2525")
    assert host.stdout.split() == ["smtp", "mail.example.org", "2525", "False", "-"], host.stderr
    # Deployed with nothing set: SMTP on this host, never the console (reset links in logs).
    deployed = run_settings(
        tmp_path, EMAIL_CODE, DATABASE_URL="postgres://x@127.0.0.1/x", SECRET_KEY="k" * 50
    )
    assert deployed.stdout.split()[:2] == ["smtp", "localhost"], deployed.stderr


def test_debug_only_when_asked(tmp_path):
    code = "from django.conf import settings as s; print(s.DEBUG)"
    assert run_settings(tmp_path, code, DEBUG="true").stdout.strip() == "True"


def test_env_example_lists_every_variable_settings_read():
    import re

    settings_src = (ROOT / "shrutik" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', settings_src))
    read |= set(re.findall(r'"([A-Z0-9_]+)" (?:not )?in env', settings_src))
    secrets = set(re.findall(r'secret(?:_is_set)?\(\s*"([A-Z0-9_]+)"', settings_src))
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY"} <= secrets
    read |= secrets | {f"{name}_FILE" for name in secrets}
    listed = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert read - listed == set(), f"missing from .env.example: {sorted(read - listed)}"


def test_docker_compose_defines_the_deployed_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "s3", "createbucket", "web", "worker", "beat", "nginx"} <= set(
        services
    )
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        for var in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "AWS_STORAGE_BUCKET_NAME"):
            assert var in env or f"{var}_FILE" in env, f"{name} lacks {var}"
        assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["AWS_S3_ENDPOINT_URL"] == "http://s3:8333"
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert "web" in services["nginx"]["depends_on"]
    nginx_conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass http://web:8000" in nginx_conf
    # The live socket may carry ?token=: nginx logs its path without the query.
    websocket_block = nginx_conf.split("location /ws/ {", 1)[1].split("}", 1)[0]
    assert "access_log /var/log/nginx/access.log without_query;" in websocket_block
    assert "$uri" in nginx_conf.split("log_format without_query", 1)[1].split(";", 1)[0]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile and "collectstatic" in dockerfile
