"""A campaign in two browsers: the organiser creates it and keeps its page open;
a participant joins by code and records with the fake microphone; the
organiser's page follows without a reload."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from campaigns.models import Campaign
from recordings.tests.factories import LanguageFactory, make_script
from tests.browser.conftest import PHONE, reading_source
from tests.browser.helpers import csp_violations, elapsed_at_least, latin_digits, watch_errors

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_organisers_page_follows_a_participants_reading_live(
    page, browser, asgi_server, asgi_login, make_user, worker
):
    meta = json.loads(reading_source().with_suffix(".json").read_text())
    make_script(LanguageFactory(), meta["script"])
    organiser = make_user(roles=["contributor", "organiser"])
    reader = make_user(display_name="Mina")
    errors = watch_errors(page)
    asgi_login(organiser)

    page.goto(f"{asgi_server.url}/campaigns/new/")
    page.get_by_label("Name", exact=True).fill("Class 7 drive")
    page.get_by_label("Language", exact=True).select_option("bn")
    page.get_by_label("Goal: minutes recorded").fill("1")
    page.get_by_role("button", name="Create the campaign").click()
    code = page.get_by_test_id("join-code").inner_text()
    campaign = Campaign.objects.get()
    expect(page.locator("img.qr")).to_be_visible()
    # A marker that a reload would wipe.
    page.evaluate("window.__notReloaded = true")

    second = browser.new_context(viewport=PHONE, locale="en-GB")
    try:
        reader_page = second.new_page()
        client = Client()
        client.force_login(reader)
        second.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": asgi_server.url,
                }
            ]
        )
        reader_page.goto(f"{asgi_server.url}/campaigns/join/")
        reader_page.get_by_label("Join code").fill(code.lower())
        reader_page.get_by_label("Show my name on the campaign's screens").check()
        reader_page.get_by_role("button", name="Join", exact=True).click()
        expect(reader_page).to_have_url(f"{asgi_server.url}/campaigns/{campaign.pk}/")
        expect(page.locator('[data-field="participants"]')).to_have_text("1", timeout=10_000)

        reader_page.get_by_role("link", name="Record a reading").click()
        recorder = reader_page.locator("#recorder")
        reader_page.get_by_role("button", name="Start recording").click()
        expect(recorder).to_have_attribute("data-state", "recording")
        expect(page.locator('[data-list="events"] li').first).to_have_text(
            "Mina started reading", timeout=15_000
        )
        elapsed_at_least(reader_page, float(meta["sentences"][-1]["end"]) + 1.0)
        reader_page.get_by_role("button", name="Stop").click()
        reader_page.get_by_role("button", name="Upload").click()
        expect(page.locator('[data-field="recordings.chunked"]')).to_have_text("1", timeout=120_000)
    finally:
        second.close()
    expect(page.locator('[data-list="top_participants"] li').first).to_contain_text("Mina")
    assert page.locator("#recorded-bar").evaluate("bar => bar.value") > 0
    assert page.evaluate("window.__notReloaded") is True
    assert not errors + csp_violations(page)


def test_the_live_campaign_pages_in_english_and_bangla_at_phone_and_desktop_width(
    page, context, asgi_server, asgi_login, make_user
):
    """The pages that hold a socket (so served by the ASGI app): no console
    error or CSP violation, nothing wider than the screen, no English or Latin
    digits left on the Bangla pages once the socket has spoken."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.services import campaign_create, campaign_join
    from tests.browser.test_pages import WIDTHS, check_page, english_messages

    organiser = make_user(roles=["contributor", "organiser"])
    reader = make_user(display_name="Mina")
    campaign = campaign_create(
        organiser=organiser,
        name="সপ্তম শ্রেণির পাঠ অভিযান",
        language=LanguageFactory(),
        goal_recorded_minutes=30,
        goal_validated_minutes=10,
        starts_at=timezone.now() - timedelta(minutes=5),
        ends_at=timezone.now() + timedelta(hours=2),
    )
    campaign_join(user=reader, code=campaign.join_code, show_name=True)
    live = "document.getElementById('campaign-progress').dataset.version !== undefined"
    pages = {
        organiser: [f"/campaigns/{campaign.pk}/", f"/campaigns/{campaign.pk}/wall/"],
        reader: [f"/campaigns/{campaign.pk}/", "/dashboard/"],
    }
    errors = watch_errors(page)
    messages = english_messages()
    problems = []
    for user, paths in pages.items():
        for code in ("en", "bn"):
            context.clear_cookies()
            asgi_login(user, language=code)
            for viewport in WIDTHS.values():
                page.set_viewport_size(viewport)
                for path in paths:
                    label = f"{path} [{code}, {viewport['width']} px]"
                    found = check_page(page, asgi_server.url + path, live, errors, False)
                    problems += [f"{label}: {e}" for e in found["errors"] + csp_violations(page)]
                    if found["width"] > viewport["width"]:
                        problems.append(f"{label}: {found['width']} px wide: {found['wide']}")
                    if code == "bn":
                        left = [m for m, pattern in messages if pattern.search(found["text"])]
                        problems += [f"{label}: English left: {left}"] if left else []
                        problems += [f"{label}: {d}" for d in latin_digits(page)]
    assert not problems, "\n".join(problems)
