"""The contributor UI in a real browser: record, transcribe, Bangla, keyboard only
(voting on the Contribute page: test_contribute.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from recordings.models import Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from tests.browser.helpers import chunk_shown, elapsed_at_least
from transcriptions.models import TaskSkip, Transcription

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]


def test_record_upload_and_see_it_processed(
    page, live_server, login, contributor, worker, fake_mic_wav
):
    meta = json.loads(audio_files.READING_JSON.read_text())
    script = make_script(LanguageFactory(), meta["script"])
    login(contributor)
    # The first upload attempt dies with a reset connection: the page must retry.
    attempts = []

    def flaky(route):
        attempts.append(route.request.method)
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/recordings/", flaky)
    page.goto(f"{live_server.url}/record/?language=bn")
    recorder = page.locator("#recorder")
    expect(recorder).to_have_attribute("data-script", str(script.pk))
    expect(page.locator("#script li")).to_have_count(len(meta["sentences"]))

    page.get_by_role("button", name="Start recording").click()
    expect(recorder).to_have_attribute("data-state", "recording")
    # The fake microphone is playing the reading: the meter moves, the clock runs.
    page.wait_for_function("Number(document.getElementById('level').ariaValueNow) > 20")
    expect(page.locator("#script li.current")).to_have_count(1)
    seconds = float(meta["sentences"][-1]["end"]) + 1.0
    elapsed_at_least(page, seconds, timeout=40_000)
    # Pause in the silence after the reading, resume, then stop.
    page.get_by_role("button", name="Pause").click()
    expect(recorder).to_have_attribute("data-state", "paused")
    page.get_by_role("button", name="Resume").click()
    expect(recorder).to_have_attribute("data-state", "recording")
    page.get_by_role("button", name="Stop").click()
    expect(recorder).to_have_attribute("data-state", "stopped")
    expect(page.locator("#playback")).to_have_attribute("src", re.compile(r"^blob:"))
    # The listen-back player knows how long the reading is (WebM from
    # MediaRecorder has no duration in its header: the page finds it out).
    page.wait_for_function(
        "s => { const a = document.getElementById('playback');"
        " return Number.isFinite(a.duration) && a.duration > s && a.currentTime === 0; }",
        arg=seconds - 2,
        timeout=10_000,
    )

    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text(re.compile("Trying again|Uploaded"))
    expect(recorder).to_have_attribute("data-state", "chunked", timeout=90_000)
    assert attempts == ["POST", "POST"] or attempts[:2] == ["POST", "POST"]
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    expect(page.locator("#result-status")).to_contain_text(f"{len(meta['sentences'])} sentence")
    # How it sounds, in words: not dBFS or signal-to-noise figures.
    expect(page.locator("#quality")).to_contain_text("Loudness")
    expect(page.locator("#quality")).not_to_contain_text("dBFS")
    # One line says where the reading is; the "listen back" prompt is gone.
    expect(page.locator("#rec-status")).to_have_text("")
    expect(page.get_by_text("Uploaded. Waiting for processing")).to_have_count(0)
    expect(page.locator("#btn-again")).to_be_hidden()

    recording = Recording.objects.get(contributor=contributor)
    assert recording.status == "chunked"
    assert recording.chunks.count() == len(meta["sentences"])
    assert 12 < recording.duration < 30
    assert [c.expected_text for c in recording.chunks.order_by("index")] == [
        s["text"] for s in meta["sentences"]
    ]


def test_transcribe_flags_helper_skip_and_next_without_reload(
    page, live_server, login, contributor, chunks_with_audio
):
    chunks = chunks_with_audio(3)  # no expected text: the server asks for typing
    login(contributor)
    page.goto(f"{live_server.url}/contribute/?language=bn")
    first = chunk_shown(page)
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#lease-timer")).to_have_text(re.compile(r"^(9|10):\d\d$"))
    expect(page.locator("#task-audio")).to_have_js_property("readyState", 4, timeout=10_000)

    text = page.locator("#task-text")
    expect(text).to_be_focused()
    page.keyboard.type("এক বৎসর")
    page.locator(".char-helper button[data-char='ং']").click()
    expect(text).to_be_focused()  # the phone keyboard stays open
    expect(text).to_have_value("এক বৎসরং")
    page.keyboard.press("Alt+N")
    expect(page.get_by_label("Noisy audio")).to_be_checked()
    page.keyboard.press("Alt+L")
    expect(page.locator("#task-audio")).to_have_js_property("playbackRate", 0.7)
    page.keyboard.press("Control+Enter")
    second = chunk_shown(page, first)

    saved = Transcription.objects.get(user=contributor)
    assert str(saved.chunk_id) == first
    assert saved.text == "এক বৎসরং" and saved.flags == ["noise"]
    assert saved.time_spent_ms and saved.time_spent_ms > 0

    page.keyboard.press("Alt+S")
    third = chunk_shown(page, second)
    assert TaskSkip.objects.filter(user=contributor, chunk_id=second).exists()
    assert {first, second, third} == {str(c.id) for c in chunks}
    # An empty answer is refused in the page, with a message, before any request.
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#text-error")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True


def test_keyboard_only_sign_in_and_transcribe(page, live_server, contributor, chunks_with_audio):
    chunks_with_audio(1)
    page.goto(f"{live_server.url}/accounts/login/?next=/")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(contributor.username)
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")

    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # Back from the content into the navigation, to the Contribute link; every stop
    # shows a focus ring.
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", page.evaluate("document.activeElement.outerHTML")
        if page.evaluate("document.activeElement.textContent.trim()") == "Contribute":
            break
    expect(page.locator("nav").get_by_role("link", name="Contribute")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/contribute/$"))
    chunk_shown(page)
    expect(page.locator("#task-text")).to_be_focused()
    page.keyboard.type("আমি")
    page.keyboard.press("Tab")  # into the character toolbar: one tab stop
    expect(page.locator(".char-helper button").first).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".char-helper button").nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#task-text")).to_have_value("আমিং")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Noisy audio")).to_be_focused()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task")).to_have_attribute("data-state", "empty")
    assert Transcription.objects.get(user=contributor).text == "আমিং"


def test_bangla_interface_renders_with_bangla_fonts(
    page, live_server, login, contributor, tmp_path, chunks_with_audio
):
    make_script(LanguageFactory(), "রাতের আকাশে অনেক তারা। আমি দুধ দিয়ে চা খাই।")
    chunks_with_audio(1)
    login(contributor, language="bn")
    shots = Path(os.environ.get("SHRUTIK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    pages = {
        "record": ("/record/", "পাঠ রেকর্ড করুন"),
        "contribute": ("/contribute/", "অবদান রাখুন"),
        "dashboard": ("/dashboard/", "ড্যাশবোর্ড"),
    }
    for name, (path, heading) in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", "bn")
        expect(page.locator("h1")).to_contain_text(heading)
        page.screenshot(path=str(shots / f"bn-{name}.png"), full_page=True)
    # A Bangla font is really used: Bangla letters differ in width, whereas
    # missing glyphs would all be drawn as boxes of one width.
    widths = page.evaluate(
        """() => ['ক', 'ঙ', 'ি', 'ৎ', '\\uE000'].map(ch => {
             const ctx = document.createElement('canvas').getContext('2d');
             ctx.font = '20px ' + getComputedStyle(document.body).fontFamily;
             return ctx.measureText(ch).width; })"""
    )
    assert len(set(widths[:4])) > 1, widths
    assert widths[0] != widths[4], widths
