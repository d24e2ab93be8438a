"""Security settings and the protections every page and form relies on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from recordings.models import Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_chunks, make_script

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"  # the user factory's

# What docs/security.md lists for a production deployment.
DEPLOYED_ENV = {
    "DATABASE_URL": "postgres://shrutik:pw@db.internal:5432/shrutik",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "k8Jz3-vQw9!pL2xR7tYb4nM6cF1hG0sD5aE8uI3oP9zX2wV7qT4rY6",
    "ALLOWED_HOSTS": "shrutik.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://shrutik.example.org",
    "AWS_STORAGE_BUCKET_NAME": "shrutik",
    "AWS_S3_ENDPOINT_URL": "https://s3.example.org",
}


def run_manage(tmp_path, *args: str, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "AWS_", "DJANGO_", "SESSION_", "CSRF_", "AXES_"))
        and k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG"}
    }
    clean.update(SHRUTIK_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="shrutik.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- Deployed settings --------------------------------------------------------------


def test_check_deploy_is_clean_in_the_deployed_configuration(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **DEPLOYED_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_catches_an_unsafe_deployment(tmp_path):
    unsafe = {**DEPLOYED_ENV, "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false"}
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **unsafe)
    assert result.returncode != 0
    assert "security.W008" in result.stderr and "security.W012" in result.stderr


def test_deployed_defaults_are_https_only_and_embedded_ones_stay_local(tmp_path):
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_INCLUDE_SUBDOMAINS]))"
    )
    deployed = run_manage(tmp_path, "shell", "--no-imports", "-c", code, **DEPLOYED_ENV)
    assert json.loads(deployed.stdout) == [True, 31_536_000, True, True, True], deployed.stderr
    embedded = run_manage(tmp_path, "shell", "--no-imports", "-c", code)
    assert json.loads(embedded.stdout) == [False, 0, False, False, False], embedded.stderr


# --- Content-Security-Policy ----------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.django_db
def test_pages_send_a_strict_policy_with_the_object_store_and_websocket_origins(
    client, contributor, s3_server
):
    client.force_login(contributor)
    for path in ("/", "/record/", "/accounts/profile/", "/dashboard/"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = policy(response)
        assert csp["default-src"] == ["'self'"]
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
        assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
        endpoint = urlsplit(s3_server["endpoint_url"])
        assert {"'self'", "blob:", f"http://{endpoint.netloc}"} <= set(csp["media-src"])
        assert {"'self'", "ws://testserver", "wss://testserver"} <= set(csp["connect-src"])
    secure = client.get("/", secure=True)
    assert "ws://testserver" not in policy(secure)["connect-src"]


def test_templates_have_no_inline_script_handler_or_style():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    style = re.compile(r"<style\b|\sstyle\s*=", re.I)
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (inline_script, handler, style):
            offenders += [
                f"{template.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)
            ]
    assert offenders == []


def test_our_scripts_never_evaluate_strings():
    # The browser tests allow 'unsafe-eval' for Playwright's own polling only.
    evaluating = re.compile(r"\beval\(|new Function\(|set(?:Timeout|Interval)\(\s*[\"'`]")
    offenders = [
        str(js.relative_to(ROOT))
        for js in sorted((ROOT / "static").rglob("*.js"))
        if evaluating.search(js.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_the_api_reference_runs_under_the_policy(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and "<style" not in html
    script = re.search(r'<script src="([^"]*\?script[^"]*)"', html).group(1)
    js = client.get(script.replace("&amp;", "&"))
    assert js.status_code == 200 and "SwaggerUIBundle" in js.content.decode()
    assert policy(page)["script-src"] == ["'self'"]


# --- CSRF -------------------------------------------------------------------------


@pytest.mark.django_db
def test_web_forms_refuse_posts_without_a_csrf_token(contributor):
    anonymous = Client(enforce_csrf_checks=True)
    forms = {
        "/accounts/login/": {"username": contributor.username, "password": PASSWORD},
        "/accounts/signup/": {"username": "newbie"},
        "/i18n/setlang/": {"language": "bn"},
    }
    for path, data in forms.items():
        assert anonymous.post(path, data).status_code == 403, path
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(contributor)
    forms = {
        "/accounts/profile/": {"display_name": "changed"},
        "/accounts/profile/consent/": {"action": "withdraw"},
        "/accounts/profile/erase/": {"confirm": contributor.username},
        "/accounts/logout/": {},
    }
    for path, data in forms.items():
        assert signed_in.post(path, data).status_code == 403, path
    contributor.refresh_from_db()
    assert contributor.display_name != "changed" and contributor.has_consented
    assert not contributor.is_erased


@pytest.mark.django_db
def test_session_api_writes_need_csrf_and_token_writes_do_not(contributor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(contributor)
    body = json.dumps({"display_name": "by session"})
    refused = browser.patch("/api/me/", body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.get("/accounts/profile/")  # sets the CSRF cookie, as a page load does
    token = browser.cookies["csrftoken"].value
    accepted = browser.patch(
        "/api/me/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200

    api = Client(enforce_csrf_checks=True)
    pair = api.post(
        "/api/auth/token/",
        {"username": contributor.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert pair.status_code == 200
    jwt = api.patch(
        "/api/me/",
        json.dumps({"display_name": "by token"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pair.json()['access']}",
    )
    assert jwt.status_code == 200 and jwt.json()["display_name"] == "by token"


# --- Admin ------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_admin_page_needs_staff(client, contributor):
    pages = ["/admin/"] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    assert len(pages) > 5
    for who in (None, contributor):
        if who is not None:
            client.force_login(who)
        for page in pages:
            response = client.get(page)
            assert response.status_code == 302, page
            assert response["Location"].startswith("/admin/login/"), page


# --- Passwords --------------------------------------------------------------------

WEAK = {
    "short": ("Ab3!x", "too short"),
    "common": ("password123", "too common"),
    "numeric": ("8302917465", "entirely numeric"),
    "like the username": ("rina-sultana", "too similar to the username"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("weak", WEAK, ids=list(WEAK))
def test_weak_passwords_are_refused_with_the_reason(api_client, client, weak):
    password, reason = WEAK[weak]
    response = api_client.post(
        "/api/auth/register/",
        {
            "username": "rina-sultana",
            "password": password,
            "consent": True,
            "consent_version": settings.CONSENT_VERSION,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("password:") and reason in response.json()["detail"]

    page = client.post(
        "/accounts/signup/",
        {"username": "rina-sultana", "password1": password, "password2": password, "consent": "on"},
    )
    assert page.status_code == 200 and reason in page.content.decode()
    assert not client.session.get("_auth_user_id")


# --- Uploads ----------------------------------------------------------------------

HOSTILE_NAMES = ["../../etc/passwd.webm", "evil\x00.webm", "a" * 5000 + ".webm", "/tmp/x.webm"]


@pytest.mark.django_db
def test_uploaded_file_names_never_become_storage_keys(auth_client):
    script_text = json.loads(audio_files.READING_JSON.read_text())["script"]
    language = LanguageFactory()
    for name in HOSTILE_NAMES:
        script = make_script(language, script_text)
        audio = SimpleUploadedFile(
            name, audio_files.READING.read_bytes(), content_type="audio/webm"
        )
        response = auth_client.post(
            "/api/recordings/", {"script": script.pk, "audio": audio}, format="multipart"
        )
        assert response.status_code == 201, (name[:40], response.content)
        recording = Recording.objects.get(pk=response.json()["id"])
        assert recording.audio.name == f"recordings/{recording.id}/original.webm"
        assert (
            "passwd" not in json.dumps(response.json()) and "evil" not in response.content.decode()
        )


# --- Consent ----------------------------------------------------------------------


@pytest.mark.django_db
def test_nothing_is_contributed_without_consent(auth_client):
    user = auth_client.user
    user.consent_at, user.consent_version = None, ""
    user.save()
    (chunk,) = make_chunks(1, language=LanguageFactory(code="bn"))
    script = make_script(chunk.language, "আমি দুধ দিয়ে চা খাই।")
    audio = SimpleUploadedFile("r.webm", audio_files.READING.read_bytes())
    attempts = [
        auth_client.post(
            "/api/recordings/", {"script": script.pk, "audio": audio}, format="multipart"
        ),
        auth_client.get("/api/tasks/next/?language=bn"),
        auth_client.post("/api/transcriptions/", {"chunk": str(chunk.id), "text": "x"}),
    ]
    for response in attempts:
        assert response.status_code == 403, response.content
        assert "agreement" in response.json()["detail"]
    assert not Recording.objects.filter(contributor=user).exists()
