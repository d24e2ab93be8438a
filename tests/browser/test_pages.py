"""Every page at a 360-px phone width, in English and Bangla.

For each page: no console errors or uncaught exceptions, no horizontal
overflow, and the Bangla version shows none of the English strings of our
catalogue that the English version shows (an untranslated string would).
"""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

from contributors.models import ReliabilityScore
from exports.models import Export
from recordings.tests.factories import LanguageFactory, make_chunks, make_script
from transcriptions.models import Transcription

PO = Path(__file__).resolve().parents[2] / "locale" / "bn" / "LC_MESSAGES" / "django.po"
NARROW = {"width": 360, "height": 740}
SENTENCE = "আমি দুধ দিয়ে চা খাই।"

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]


def state_is(element_id: str, state: str) -> str:
    return f"document.getElementById({element_id!r}).dataset.state === {state!r}"


# name: (path, JS condition that says the page has finished drawing itself)
ANONYMOUS_PAGES = {
    "home": ("/", None),
    "signup": ("/accounts/signup/", None),
    "login": ("/accounts/login/", None),
}
SIGNED_IN_PAGES = {
    "home-signed-in": ("/", None),
    "record": ("/record/?language=bn", "!document.getElementById('recorder').hidden"),
    # One clip to vote on and one to type: the page shows whichever the server picks.
    "contribute": (
        "/contribute/?language=bn",
        f"{state_is('task', 'verify')} || {state_is('task', 'transcribe')}",
    ),
    "dashboard": ("/dashboard/", None),
    "profile": ("/accounts/profile/", None),
    "exports": ("/exports/", "document.getElementById('exports-list').children.length > 0"),
}
SIGNUP_ERRORS = "document.querySelectorAll('.error').length > 2"


def english_messages() -> list[tuple[str, re.Pattern]]:
    """Catalogue strings that Bangla must replace, with a whole-word pattern for each."""
    messages = []
    for entry in polib.pofile(str(PO)):
        text = " ".join(entry.msgid.split())
        if entry.msgid_plural or entry.msgstr.strip() == entry.msgid.strip():
            continue  # plural forms render with numbers; "MP3" is "MP3" in Bangla too
        pattern = re.compile(r"(?<!\w)" + re.escape(text) + r"(?!\w)")
        messages.append((text, pattern))
    return messages


def visible_text(page) -> str:
    return " ".join(page.locator("body").inner_text().split())


def check_page(page, url: str, ready: str | None, errors: list[str], submit: bool) -> dict:
    """Open ``url`` (and send its form empty if ``submit``), open every <details>,
    and return what the checks need."""
    errors.clear()
    page.goto(url)
    if submit:
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
    """A researcher with recordings, a decided transcription and clips left to do."""
    language = LanguageFactory()
    user = make_user(roles=["contributor", "researcher"], show_on_leaderboard=True)
    make_script(language, "রাতের আকাশে অনেক তারা। বিড়ালটি জানালায় বসে আছে। আমি দুধ দিয়ে চা খাই।")
    make_chunks(2, contributor=user, language=language)  # the user's own recording
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
    return user


def test_every_page_at_360px_in_english_and_bangla(
    page, context, live_server, login, page_data, screenshot
):
    page.set_viewport_size(NARROW)
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and errors.append(f"console: {msg.text} ({msg.location.get('url')})")
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    messages = english_messages()
    problems: list[str] = []

    def set_language(code: str) -> None:
        cookie = {"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": live_server.url}
        context.add_cookies([cookie])

    def visit(name: str, path: str, ready: str | None, submit: bool = False) -> None:
        url = f"{live_server.url}{path}"
        found = {}
        for code in ("en", "bn"):
            set_language(code)
            found[code] = result = check_page(page, url, ready, errors, submit)
            before = len(problems)
            if result["lang"] != code:
                problems.append(f"{name} [{code}]: <html lang={result['lang']!r}>")
            problems.extend(f"{name} [{code}]: {e}" for e in result["errors"])
            if result["width"] > NARROW["width"]:
                problems.append(
                    f"{name} [{code}]: {result['width']} px wide at {NARROW['width']} px,"
                    f" widest elements: {result['wide']}"
                )
            if code == "bn":
                english = [
                    text
                    for text, pattern in messages
                    if pattern.search(found["en"]["text"]) and pattern.search(result["text"])
                ]
                if english:
                    problems.append(f"{name} [bn]: English strings left: {english}")
            if len(problems) > before:
                screenshot(page, f"{name}-{code}")

    for name, (path, ready) in ANONYMOUS_PAGES.items():
        visit(name, path, ready)
    # The sign-up form sent empty: its error messages must fit and be translated too.
    visit("signup-errors", "/accounts/signup/", SIGNUP_ERRORS, submit=True)

    login(page_data)
    for name, (path, ready) in SIGNED_IN_PAGES.items():
        visit(name, path, ready)

    assert not problems, "\n".join(problems)
