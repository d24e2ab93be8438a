"""Error pages, the favicon, numbers in the reader's digits, the admin in Bangla,
and logs that stay quiet about ordinary client errors."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.template import Context, Template
from django.utils import translation

from shrutik.lifespan import lifespan
from shrutik.numbers import localize_digits

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_styled_and_translated(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and "css/shrutik.css" in html
    client.cookies["django_language"] = "bn"
    html = client.get("/no-such-page/").content.decode()
    assert "পাতাটি পাওয়া যায়নি" in html and 'lang="bn"' in html
    # The API keeps answering JSON.
    api = client.get("/api/no-such-thing/")
    assert api.status_code == 404 and api.json() == {"detail": "পাওয়া যায়নি।"}


def test_a_forbidden_page_is_styled_and_logs_one_line(client, reviewer, caplog):
    """A reviewer (staff, with the review permissions only) opening the user admin:
    Django raises PermissionDenied, an ordinary 403."""
    client.force_login(reviewer)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/admin/contributors/user/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot open this page" in html and "ask an admin" in html
    assert "css/shrutik.css" in html
    client.cookies["django_language"] = "bn"
    assert "আপনি এই পাতাটি খুলতে পারবেন না" in client.get("/admin/contributors/user/").content.decode()
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.exc_info is None and not r.exc_text for r in records)
    # What the handler writes: the line, without a traceback.
    formatted = logging.getLogger("django.request").handlers or logging.getLogger().handlers
    text = formatted[0].format(records[0])
    assert "Traceback" not in text and "Forbidden" in text


def test_a_server_error_keeps_its_traceback_in_the_log():
    from shrutik.logging import ClientErrorFilter

    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), exc_info)
    record.status_code = 500
    assert ClientErrorFilter().filter(record) and record.exc_info is exc_info


def test_the_server_error_page_stands_alone_in_the_readers_language(client, settings):
    from django.template.loader import render_to_string

    with translation.override("bn"):
        html = render_to_string("500.html")
    assert "কিছু একটা ভুল হয়েছে" in html and "css/shrutik.css" in html


def test_a_stale_form_gets_a_page_that_says_to_reload(client, make_user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_browsers_asking_for_favicon_ico_get_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.ico")
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content if icon.streaming else [icon.content])[:4] == (
        b"\x00\x00\x01\x00"
    )


def test_numbers_are_written_in_the_pages_digits():
    template = Template("{% load shrutik %}{{ n|num:1 }} {{ d|digits }} {{ i|num }}")
    context = Context({"n": 12.345, "d": "5-12-2026", "i": 1234})
    with translation.override("bn"):
        assert template.render(context) == "১২.৩ ৫-১২-২০২৬ ১২৩৪"
        assert localize_digits("0.8 s") == "০.৮ s"
    with translation.override("en"):
        assert template.render(context) == "12.3 5-12-2026 1234"


def test_the_admin_speaks_bangla(client, make_user):
    admin = make_user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.cookies["django_language"] = "bn"
    html = client.get("/admin/").content.decode()
    for heading in ("শ্রুতিক প্রশাসন", "রেকর্ডিং", "অবদানকারী", "স্ক্রিপ্টের অভিযোগ"):
        assert heading in html, heading
    assert 'rel="icon"' in html


def test_the_admin_login_error_is_translated(client, make_user):
    make_user(username="rina", password="a-long enough pass phrase", is_staff=True)
    client.cookies["django_language"] = "bn"
    html = client.post(
        "/admin/login/", {"username": "rina", "password": "wrong", "next": "/admin/"}
    ).content.decode()
    assert "কোনো কর্মী অ্যাকাউন্টের সঙ্গে মেলে না" in html


def test_the_asgi_app_answers_the_lifespan_protocol():
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(lifespan({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
