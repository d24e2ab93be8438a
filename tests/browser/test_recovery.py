"""The ways back a volunteer needs: a forgotten password reset by e-mail, a
rejected reading recorded again, a faulty script reported instead of read, and
their own clips heard from the dashboard. Each page of the way must raise no
console error and no Content-Security-Policy violation."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from recordings.models import Recording, Script, ScriptReport
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script, reject_reading
from shrutik.testing import wait_until
from tests.browser.helpers import csp_violations, elapsed_at_least, watch_errors

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new pass phrase"


def no_page_errors(page, errors: list[str]) -> None:
    problems = [*errors, *csp_violations(page)]
    assert not problems, problems


def record_for(page, seconds: float) -> None:
    """Start, read for ``seconds`` through the fake microphone, stop."""
    page.get_by_role("button", name="Start recording").click()
    expect(page.locator("#recorder")).to_have_attribute("data-state", "recording")
    elapsed_at_least(page, seconds, timeout=30_000)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#recorder")).to_have_attribute("data-state", "stopped")


def test_a_forgotten_password_is_reset_by_e_mail(page, live_server, make_user):
    make_user(username="rina", email="rina@example.org", password=PASSWORD)
    errors = watch_errors(page)
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("rina@example.org")
    page.get_by_role("button", name="Send me the link").click()
    page.wait_for_url(f"{base}/accounts/password_reset/done/")
    expect(page.locator("h1")).to_have_text("Check your e-mail")
    no_page_errors(page, errors)

    # The e-mail, as the locmem backend of the test run holds it.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rina@example.org"]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", message.body).group(0)
    assert link.startswith(base)

    page.goto(link)
    expect(page.locator("h1")).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_url(f"{base}/accounts/reset/done/")
    no_page_errors(page, errors)

    page.locator("main").get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill("rina")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{base}/accounts/profile/")
    # The link was for one use.
    page.goto(link)
    expect(page.locator("h1")).to_have_text("This link does not work any more")
    no_page_errors(page, errors)


def test_a_rejected_reading_is_recorded_again(page, asgi_server, asgi_login, contributor):
    """Served as in production (ASGI, so the reading streams over the live
    socket). No worker here: the test rejects the reading as the worker would,
    and the page offers the same script again."""
    first_sentence = json.loads(audio_files.READING_JSON.read_text())["sentences"][0]["text"]
    script = make_script(LanguageFactory(), first_sentence)
    make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")  # another script to offer
    asgi_login(contributor)
    errors = watch_errors(page)
    page.goto(f"{asgi_server.url}/record/?language=bn")
    recorder = page.locator("#recorder")
    expect(recorder).to_have_attribute("data-script", str(script.pk))

    record_for(page, 3)
    # The player of the reading shows its length (WebM from MediaRecorder has none).
    page.wait_for_function(
        "() => { const a = document.getElementById('playback');"
        " return Number.isFinite(a.duration) && a.duration > 2; }",
        timeout=10_000,
    )
    page.get_by_role("button", name="Upload").click()
    wait_until(
        lambda: Recording.objects.filter(contributor=contributor).exists(),
        timeout=30,
        what="the uploaded reading",
    )
    first = Recording.objects.get(contributor=contributor)
    reject_reading(
        first.pk,
        "The recording is far too quiet. Please speak closer to the microphone "
        "or raise its input volume, then record again.",
        params={},
    )
    expect(recorder).to_have_attribute("data-state", "rejected", timeout=30_000)
    expect(page.locator("#result-status")).to_contain_text("far too quiet")
    # One line says what happened: the "listen back" prompt and the upload box are gone.
    expect(page.locator("#rec-status")).to_have_text("")
    expect(page.locator("#upload")).to_be_hidden()

    again = page.get_by_role("button", name="Record this script again")
    expect(again).to_be_visible()
    expect(page.get_by_role("link", name="Record another script")).to_be_visible()
    again.click()
    expect(recorder).to_have_attribute("data-state", "idle")
    expect(recorder).to_have_attribute("data-script", str(script.pk))
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#rec-status")).to_have_text(
        "Press Start and read the highlighted sentence."
    )

    record_for(page, 3)
    page.get_by_role("button", name="Upload").click()
    wait_until(
        lambda: Recording.objects.filter(contributor=contributor, script=script).count() == 2,
        timeout=30,
        what="a second reading of the rejected script",
    )
    expect(recorder).to_have_attribute("data-state", re.compile("uploaded|processing"))
    no_page_errors(page, errors)


def test_a_faulty_script_is_reported_and_another_offered(
    page, live_server, login, contributor, settings
):
    settings.SCRIPT_REPORTS_TO_WITHDRAW = 1
    language = LanguageFactory()
    faulty = make_script(language, "রাতের আকাশে অনেক তারা।")
    other = make_script(language, "আমি দুধ দিয়ে চা খাই।")
    login(contributor)
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/record/?language=bn")
    expect(page.locator("#recorder")).to_have_attribute("data-script", str(faulty.pk))

    page.get_by_text("Report this script").click()
    page.get_by_role("button", name="Offensive or inappropriate").click()
    expect(page.locator("#script-report-status")).to_contain_text("taken out of use")
    expect(page.get_by_role("button", name="Start recording")).to_be_disabled()
    report = ScriptReport.objects.get()
    assert (report.script_id, report.reporter_id, report.reason) == (
        faulty.pk,
        contributor.pk,
        "offensive",
    )
    assert not Script.objects.get(pk=faulty.pk).active

    page.get_by_role("link", name="Get another script").click()
    expect(page.locator("#recorder")).to_have_attribute("data-script", str(other.pk))
    no_page_errors(page, errors)


def test_my_clips_are_heard_from_the_dashboard(page, live_server, login, chunks_with_audio):
    chunks = chunks_with_audio(2, expected_text="আমি দুধ দিয়ে চা খাই।")
    reader = chunks[0].contributor
    login(reader)
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Listen", exact=True).click()
    page.wait_for_url(re.compile(r"/dashboard/recordings/[0-9a-f-]+/$"))
    clips = page.locator(".clip audio")
    expect(clips).to_have_count(2)
    # The signed audio loads and plays under the page's media policy.
    clips.first.evaluate("a => a.play()")
    page.wait_for_function(
        "() => { const a = document.querySelector('.clip audio'); return a.currentTime > 0.2; }",
        timeout=15_000,
    )
    assert clips.first.evaluate("a => a.duration") == pytest.approx(2.5, abs=0.2)
    no_page_errors(page, errors)
