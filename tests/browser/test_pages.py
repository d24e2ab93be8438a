"""Every page at a 360-px phone and a 1280-px desktop width, in English and Bangla.

For each page: no console errors, uncaught exceptions or Content-Security-Policy
violations (the policy allows no inline script or style), no horizontal
overflow, the Bangla version shows none of the English strings of our catalogue
that the English version shows (an untranslated string would), and the pages
of the contributor's journey write their numbers in Bangla digits.

A screenshot of every page in every language and width is kept in
``artifacts/browser/<test>/`` when the test fails (removed when it passes;
``SHRUTIK_SCREENSHOTS=<dir>`` keeps them in ``<dir>/pages/`` either way).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from campaigns.services import campaign_create
from contributors.models import ReliabilityScore
from exports.models import Export
from recordings.models import Recording
from recordings.tests.factories import LanguageFactory, make_chunks, make_script, reject_reading
from tests.browser.conftest import artifact_path
from tests.browser.helpers import csp_violations, latin_digits, watch_errors
from transcriptions.models import Transcription

PO = Path(__file__).resolve().parents[2] / "locale" / "bn" / "LC_MESSAGES" / "django.po"
WIDTHS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
SENTENCE = "আমি দুধ দিয়ে চা খাই।"
PASSWORD = "correct horse battery staple"

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]


def state_is(element_id: str, state: str) -> str:
    return f"document.getElementById({element_id!r}).dataset.state === {state!r}"


@dataclass
class Page:
    path: str
    # JS condition that says the page has finished drawing itself.
    ready: str | None = None
    # Fields to fill (by name), then the form's last submit button is pressed.
    fill: dict[str, str] = field(default_factory=dict)
    submit: bool = False
    # A page of the contributor's journey: its numbers are in Bangla digits too.
    digits: bool = True
    # The page's own HTTP status (the browser logs an error for a 4xx).
    status: int = 200


RECORDER_READY = "!document.getElementById('recorder').hidden"
SIGNUP_ERRORS = "document.querySelectorAll('.error').length > 2"


def english_messages() -> list[tuple[str, re.Pattern]]:
    """Catalogue strings that Bangla must replace, with a whole-word pattern for each."""
    messages = []
    for entry in polib.pofile(str(PO)):
        text = " ".join(entry.msgid.split())
        if entry.msgid_plural or entry.msgstr.strip() == entry.msgid.strip():
            continue  # plural forms render with numbers; "MP3" is "MP3" in Bangla too
        if "<" in text or "%(" in text:
            continue  # markup and placeholders: the page shows other text
        pattern = re.compile(r"(?<!\w)" + re.escape(text) + r"(?!\w)")
        messages.append((text, pattern))
    return messages


def visible_text(page) -> str:
    return " ".join(page.locator("body").inner_text().split())


def check_page(
    page, url: str, ready: str | None, errors: list[str], submit: bool, fill: dict | None = None
) -> dict:
    """Open ``url`` (fill the fields named in ``fill``, and send the form if
    ``submit`` or ``fill``), open every <details>, and return what the checks need."""
    errors.clear()
    page.goto(url)
    if submit or fill:
        for name, value in (fill or {}).items():
            page.locator(f"main [name={name}]").fill(value)
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state("load")
    if ready:
        page.wait_for_function(ready, timeout=15_000)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.wait_for_timeout(150)  # let late scripts report errors
    return {
        "lang": page.locator("html").get_attribute("lang"),
        "width": page.evaluate("document.scrollingElement.scrollWidth"),
        "wide": page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(el => el.getBoundingClientRect().right > innerWidth + 0.5)
                 .filter(el => el.checkVisibility())
                 .slice(0, 5).map(el => el.tagName.toLowerCase()
                   + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''))"""
        ),
        "errors": list(errors),
        "text": visible_text(page),
    }


@pytest.fixture
def page_data(make_user, chunks_with_audio):
    """A researcher with recordings, a decided transcription and clips left to do;
    a contributor; a contributor who has not consented; an admin."""
    language = LanguageFactory()
    user = make_user(
        roles=["contributor", "researcher"], show_on_leaderboard=True, email="r@example.org"
    )
    make_script(language, "রাতের আকাশে অনেক তারা। বিড়ালটি জানালায় বসে আছে। আমি দুধ দিয়ে চা খাই।")
    mine = make_chunks(2, contributor=user, language=language, expected_text=SENTENCE)
    Recording.objects.filter(pk=mine[0].recording_id).update(duration=7.5, level_dbfs=-21.0)
    rejected = make_chunks(1, contributor=user, language=language)[0].recording
    reject_reading(rejected.pk)
    chunks_with_audio(1, expected_text=SENTENCE)  # to verify
    chunks_with_audio(1)  # to transcribe
    decided = make_chunks(1, language=language, expected_text=SENTENCE, status="validated")[0]
    Transcription.objects.create(chunk=decided, user=user, text=SENTENCE, normalized_text=SENTENCE)
    ReliabilityScore.objects.create(user=user, language="bn", alpha=18.0, beta=2.0, chunks=1)
    Export.objects.create(
        requester=user,
        version="v1.0",
        formats=["huggingface", "commonvoice"],
        status="done",
        items_done=1,
        items_total=1,
        step="Done",
        stats={"totals": {"clips": 1, "hours": 0.001, "speakers": 1}},
        files=[{"path": "datasheet.md", "size": 2048, "sha256": "0" * 64}],
        total_bytes=2048,
        prefix="exports/v1.0/",
    )
    admin = make_user(is_staff=True, is_superuser=True)
    campaign = campaign_create(
        organiser=admin,
        name="সপ্তম শ্রেণির পাঠ অভিযান",
        description="Ten minutes each.",
        language=language,
        goal_recorded_minutes=30,
        goal_validated_minutes=10,
        starts_at=timezone.now() - timedelta(minutes=5),
        ends_at=timezone.now() + timedelta(hours=2),
    )
    return {
        "campaign": campaign,
        "researcher": user,
        "recording": mine[0].recording_id,
        "contributor": make_user(),
        "unconsented": make_user(consent_version="", consent_at=None),
        "admin": admin,
        "resettable": make_user(username="rina", email="rina@example.org", password=PASSWORD),
    }


def reset_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"/accounts/reset/{uid}/{default_token_generator.make_token(user)}/"


def test_every_page_at_phone_and_desktop_width_in_english_and_bangla(
    page, context, live_server, login, page_data, request
):
    errors = watch_errors(page)
    messages = english_messages()
    problems: list[str] = []
    campaign = page_data["campaign"]
    # Kept when the test fails, or always when SHRUTIK_SCREENSHOTS names a folder.
    keep = os.environ.get("SHRUTIK_SCREENSHOTS")
    shots = Path(keep) / "pages" if keep else artifact_path(request.node.name, suffix="")
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)

    def set_language(code: str) -> None:
        cookie = {"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": live_server.url}
        context.add_cookies([cookie])

    def visit(name: str, spec: Page) -> None:
        for width_name, viewport in WIDTHS.items():
            page.set_viewport_size(viewport)
            english_text = ""
            for code in ("en", "bn"):
                label = f"{name} [{code}, {viewport['width']} px]"
                set_language(code)
                url = f"{live_server.url}{spec.path}"
                found = check_page(page, url, spec.ready, errors, spec.submit, spec.fill)
                page.screenshot(path=str(shots / f"{name}-{code}-{width_name}.png"), full_page=True)
                if found["lang"] != code:
                    problems.append(f"{label}: <html lang={found['lang']!r}>")
                expected = f"status of {spec.status} " if spec.status != 200 else None
                problems.extend(
                    f"{label}: {e}"
                    for e in [*found["errors"], *csp_violations(page)]
                    if not (expected and expected in e and spec.path.split("?")[0] in e)
                )
                if found["width"] > viewport["width"]:
                    problems.append(
                        f"{label}: {found['width']} px wide, widest elements: {found['wide']}"
                    )
                text = found["text"]
                if code == "en":
                    english_text = text
                    continue
                english = [
                    message
                    for message, pattern in messages
                    if pattern.search(english_text) and pattern.search(text)
                ]
                if english:
                    problems.append(f"{label}: English strings left: {english}")
                if spec.digits and (latin := latin_digits(page)):
                    problems.append(f"{label}: Latin digits in {latin}")

    def sign_in(who: str | None) -> None:
        context.clear_cookies()
        if who:
            login(page_data[who])

    anonymous = {
        "home": Page("/"),
        "signup": Page("/accounts/signup/"),
        # The sign-up form sent empty: its errors must fit and be translated too.
        "signup-errors": Page("/accounts/signup/", ready=SIGNUP_ERRORS, submit=True),
        "login": Page("/accounts/login/"),
        "login-error": Page(
            "/accounts/login/", fill={"username": "rina", "password": "wrong password"}
        ),
        "password-reset": Page("/accounts/password_reset/"),
        "password-reset-sent": Page(
            "/accounts/password_reset/", fill={"email": "nobody@example.org"}
        ),
        "password-reset-link": Page(reset_link(page_data["resettable"])),
        "password-reset-bad-link": Page("/accounts/reset/MQ/nonsense-token/"),
        "password-reset-complete": Page("/accounts/reset/done/"),
        "agreement": Page("/agreement/"),
        "guidelines": Page("/guidelines/"),
        "faq": Page("/faq/"),
        "not-found": Page("/no-such-page/", status=404),
        "campaign-join-link": Page(f"/c/{campaign.join_code}"),
    }
    researcher = {
        "home-signed-in": Page("/"),
        "record": Page("/record/?language=bn", ready=RECORDER_READY),
        # One clip to vote on and one to type: the page shows whichever the server picks.
        "contribute": Page(
            "/contribute/?language=bn",
            ready=f"{state_is('task', 'verify')} || {state_is('task', 'transcribe')}",
        ),
        "dashboard": Page("/dashboard/"),
        "my-recording": Page(f"/dashboard/recordings/{page_data['recording']}/"),
        "profile": Page("/accounts/profile/"),
        "agreement-signed-in": Page("/agreement/"),
        "exports": Page(
            "/exports/",
            ready="document.getElementById('exports-list').children.length > 0",
            digits=False,  # the researchers' page
        ),
    }
    contributor = {
        "forbidden": Page("/exports/", status=403),
        "campaign-join": Page("/campaigns/join/"),
        "campaign-join-wrong": Page("/campaigns/join/", fill={"code": "ZZZZ-ZZZZ"}, status=400),
    }
    unconsented = {
        "record-without-consent": Page("/record/"),
        "contribute-without-consent": Page("/contribute/"),
    }
    admin = {
        # Django's admin: our headings and names in Bangla; its digits are its own.
        "admin-index": Page("/admin/", digits=False),
        "admin-script-reports": Page("/admin/recordings/scriptreport/", digits=False),
        "admin-language-form": Page("/admin/recordings/language/add/", digits=False),
        "admin-campaigns": Page("/admin/campaigns/campaign/", digits=False),
        "campaigns": Page("/campaigns/"),
        "campaign-new": Page("/campaigns/new/"),
    }
    for who, pages in (
        (None, anonymous),
        ("researcher", researcher),
        ("contributor", contributor),
        ("unconsented", unconsented),
        ("admin", admin),
    ):
        sign_in(who)
        for name, spec in pages.items():
            visit(name, spec)

    assert not problems, "\n".join(problems) + f"\n(screenshots: {shots})"
    if not keep:
        shutil.rmtree(shots)
