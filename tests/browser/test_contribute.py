"""The Contribute page follows the server's choice of task, by keyboard, in both languages.

The clips are cut from the reading the fake microphone plays: sentences the
reader read from the script (the server asks for a vote) and one without
expected text (the server asks for it to be typed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from shrutik.testing import wait_until
from tests.browser.helpers import chunk_shown
from transcriptions.models import SkipReason, TaskLease, TaskSkip, Transcription

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]

NARROW = {"width": 360, "height": 740}
WIDE = {"width": 1280, "height": 800}
TITLES = {
    "en": {"verify": "Listen and vote", "transcribe": "Listen and type"},
    "bn": {"verify": "শুনে মত দিন", "transcribe": "শুনে লিখুন"},
}


def console_errors(page) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught exceptions, as they come."""
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


def overflowing(page) -> list[str]:
    """Elements of the page's content wider than the window (the navigation
    scrolls sideways by design)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main *')]
             .filter(el => el.getBoundingClientRect().right > innerWidth + 0.5)
             .filter(el => el.checkVisibility())
             .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''))"""
    )


@pytest.fixture
def shots(request, tmp_path):
    """``shots(page, label)``: a full-page screenshot at 360 px and at 1280 px,
    kept in ``$SHRUTIK_SCREENSHOTS`` when it is set."""
    folder = Path(os.environ.get("SHRUTIK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, label: str) -> None:
        for name, size in (("360", NARROW), ("1280", WIDE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(folder / f"contribute-{label}-{name}.png"), full_page=True)
        page.set_viewport_size(NARROW)

    return take


@pytest.mark.parametrize("interface", ["en", "bn"])
def test_votes_and_types_by_keyboard_as_the_server_asks(
    page, live_server, login, contributor, reading_chunks, shots, interface
):
    clips = reading_chunks(scripted=2, unscripted=1)
    sentences = {str(chunk.id): text for chunk, text in clips}
    scripted = {str(chunk.id) for chunk, _text in clips if chunk.expected_text}
    page.set_viewport_size(NARROW)
    errors = console_errors(page)
    asked: list[str] = []
    page.on("request", lambda r: "/api/tasks/next/" in r.url and asked.append(r.url))
    login(contributor, language=interface)
    page.goto(f"{live_server.url}/contribute/?language=bn")
    expect(page.locator("h1")).to_have_text("Contribute" if interface == "en" else "অবদান রাখুন")

    task = page.locator("#task")
    heading = page.locator("#task-heading")
    audio = page.locator("#task-audio")
    answered: dict[str, str] = {}
    shown = None
    while len(answered) < len(clips):
        shown = chunk_shown(page, shown)
        mode = task.get_attribute("data-state")
        expect(heading).to_have_text(TITLES[interface][mode])
        assert page.evaluate("document.scrollingElement.scrollWidth") <= NARROW["width"]
        assert not overflowing(page), overflowing(page)
        if mode == "verify":
            # The sentence is shown; nothing to type; the focus is on no button,
            # so Space plays and pauses instead of pressing an answer.
            assert shown in scripted
            expect(page.locator("#expected")).to_have_text(sentences[shown])
            expect(page.locator("#task-form")).to_be_hidden()
            expect(heading).to_be_focused()
            if "verify" not in answered.values():
                shots(page, f"verify-{interface}")
                page.keyboard.press("l")
                expect(audio).to_have_js_property("playbackRate", 0.7)
                expect(audio).to_have_js_property("ended", True, timeout=10_000)
                page.keyboard.press("Space")
                expect(audio).to_have_js_property("paused", False)
                page.keyboard.press("k")
                expect(audio).to_have_js_property("paused", True)
                page.keyboard.press("y")
            else:
                page.keyboard.press("2")  # "does not match", from the number row
            answered[shown] = "verify"
        else:
            # Typing: the sentence is not on the page, the text box has the focus.
            assert shown not in scripted
            expect(page.locator("#verify-box")).to_be_hidden()
            expect(page.locator("#task-text")).to_be_focused()
            assert sentences[shown] not in page.locator("body").inner_text()
            shots(page, f"transcribe-{interface}")
            page.keyboard.type(sentences[shown])
            page.keyboard.press("Alt+N")
            expect(page.locator(".flags input[value=noise]")).to_be_checked()
            page.keyboard.press("Enter")
            answered[shown] = "transcribe"
    expect(task).to_have_attribute("data-state", "empty")
    # Counted in the interface's digits.
    expect(page.locator("#done-count")).to_contain_text("3" if interface == "en" else "৩")
    assert sorted(answered.values()) == ["transcribe", "verify", "verify"]

    # The page let the server choose: no mode in any request for work.
    assert asked
    for url in asked:
        query = parse_qs(urlsplit(url).query)
        assert query == {"language": ["bn"], "count": ["5"]}, url

    votes = {
        str(t.chunk_id): t
        for t in Transcription.objects.filter(user=contributor, chunk_id__in=scripted)
    }
    assert sorted(t.vote for t in votes.values()) == [False, True]
    yes = next(t for t in votes.values() if t.vote)
    assert yes.source == "verified" and yes.text == sentences[str(yes.chunk_id)]
    typed = Transcription.objects.get(user=contributor, chunk_id__in=set(sentences) - scripted)
    assert typed.vote is None and typed.source == "typed"
    assert typed.text == sentences[str(typed.chunk_id)] and typed.flags == ["noise"]
    assert all(t.time_spent_ms and t.time_spent_ms > 0 for t in [*votes.values(), typed])
    assert not errors, errors


def test_skip_report_and_leaving_give_the_clips_back(
    page, live_server, login, contributor, reading_chunks
):
    reading_chunks(scripted=4, unscripted=0)
    errors = console_errors(page)
    login(contributor)
    page.goto(f"{live_server.url}/contribute/?language=bn")
    first = chunk_shown(page)
    assert TaskLease.objects.filter(user=contributor).count() == 4

    page.keyboard.press("s")
    second = chunk_shown(page, first)
    assert TaskSkip.objects.get(user=contributor, chunk_id=first).kind == SkipReason.SKIP

    # A listener who only votes reports a problem from the menu, by keyboard.
    summary = page.get_by_text("Report a problem with this clip")
    summary.focus()
    page.keyboard.press("Enter")
    reason = page.get_by_role("button", name="Offensive content")
    expect(reason).to_be_visible()
    reason.focus()
    page.keyboard.press("Enter")
    third = chunk_shown(page, second)
    report = TaskSkip.objects.get(user=contributor, chunk_id=second)
    assert (report.kind, report.reason) == (SkipReason.REPORT, "offensive")
    expect(page.locator("#report")).not_to_have_attribute("open", re.compile(".*"))

    # Leaving the page hands the clips it still holds (the one shown and the one
    # queued) back to everyone else.
    held = TaskLease.objects.filter(user=contributor)
    assert third in {str(chunk) for chunk in held.values_list("chunk_id", flat=True)}
    assert held.count() == 2
    page.locator("nav").get_by_role("link", name="Dashboard").click()
    wait_until(lambda: not held.exists(), timeout=10, what="the leases given back")
    assert not errors, errors
