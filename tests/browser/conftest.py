"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Chromium's fake microphone plays a WAV made at test time from the shared
Bangla reading, so a recording made in the page is a real reading that the
worker can cut into its sentences.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
READING_CANDIDATES = [
    ROOT.parent / "shared" / "data" / "speech" / "bn_read_fluent.webm",
    Path("/work/shared/data/speech/bn_read_fluent.webm"),
    ROOT / "recordings" / "tests" / "fixtures" / "bn_read_fluent.webm",  # the same file
]
PHONE = {"width": 390, "height": 844}

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make between page actions are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """Every test here that drives Chromium is marked ``browser`` and, where
    Chromium is missing, skipped saying why (a skip fails CI: conftest.py)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"Chromium is not installed at {CHROMIUM} "
                        "(make test installs it: apt-get install chromium fonts-beng)"
                    )
                )


def reading_source() -> Path:
    return next(path for path in READING_CANDIDATES if path.exists())


@pytest.fixture(scope="session")
def fake_mic_wav(tmp_path_factory) -> Path:
    """The reading as 48 kHz mono 16-bit WAV: the format Chromium's fake capture plays."""
    wav = tmp_path_factory.mktemp("mic") / "reading.wav"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-i", str(reading_source()), "-ac", "1", "-ar", "48000", "-c:a", "pcm_s16le", str(wav)],
        check=True, timeout=60,
    )  # fmt: skip
    return wav


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, fake_mic_wav):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            # Without these Chromium keeps trying to reach hosts this machine cannot.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_mic_wav}%noloop",
            "--autoplay-policy=no-user-gesture-required",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE, "locale": "en-GB"}


@pytest.fixture
def login(live_server, context):
    """Sign ``user`` in by handing the browser a session made with Client.force_login."""
    from django.conf import settings
    from django.test import Client

    def sign_in(user, *, language: str = "en") -> None:
        client = Client()
        client.force_login(user)
        cookies = [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            },
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url},
        ]
        context.add_cookies(cookies)

    return sign_in


@pytest.fixture
def asgi_server(transactional_db):
    """The ASGI app (HTTP and WebSocket) on a free port: what live recording needs."""
    from live.tests.conftest import run_asgi_server

    with run_asgi_server() as server:
        yield server


@pytest.fixture
def asgi_login(asgi_server, context):
    """``login`` for pages served by ``asgi_server``."""
    from django.conf import settings
    from django.test import Client

    def sign_in(user, *, language: str = "en") -> None:
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [
                {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": asgi_server.url},
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": asgi_server.url},
            ]
        )

    return sign_in


@pytest.fixture
def chunks_with_audio(make_user, tmp_path):
    """Open chunks recorded by someone else, with real FLAC audio in storage."""

    def make(n: int = 3, *, expected_text: str = ""):
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        from recordings.tests import audio_files
        from recordings.tests.factories import make_chunks

        flac = audio_files.speechlike(tmp_path / "c.flac", seconds=2.5, rate=16000)
        chunks = make_chunks(n, contributor=make_user(), expected_text=expected_text)
        for chunk in chunks:
            default_storage.save(chunk.audio.name, ContentFile(flac.read_bytes()))
        return chunks

    return make


@pytest.fixture
def reading_chunks(make_user, fake_mic_wav, tmp_path):
    """Open chunks cut from the fake microphone's reading, one per sentence, with
    their audio in storage. The first ``scripted`` carry their sentence and ask
    for a vote; the next ``unscripted`` carry none (a sentence the reader added),
    so they ask to be typed."""

    def make(scripted: int = 2, unscripted: int = 1):
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        from recordings.tests import audio_files
        from recordings.tests.factories import make_chunks
        from transcriptions.models import TaskMode

        sentences = json.loads(audio_files.READING_JSON.read_text())["sentences"]
        chunks = make_chunks(scripted + unscripted, contributor=make_user())
        pairs = list(zip(chunks, sentences, strict=False))
        for chunk, sentence in pairs:
            flac = tmp_path / f"{chunk.index}.flac"
            audio_files.ffmpeg(
                "-i", str(fake_mic_wav), "-ss", str(sentence["start"]), "-to", str(sentence["end"]),
                "-ac", "1", "-ar", "16000", str(flac),
            )  # fmt: skip
            default_storage.save(chunk.audio.name, ContentFile(flac.read_bytes()))
            chunk.start, chunk.end = sentence["start"], sentence["end"]
            chunk.duration = round(sentence["end"] - sentence["start"], 3)
            chunk.expected_text = sentence["text"] if chunk.index < scripted else ""
            chunk.task_mode = TaskMode.VERIFY if chunk.expected_text else TaskMode.TRANSCRIBE
            chunk.save()
        return [(chunk, sentence["text"]) for chunk, sentence in pairs]

    return make


# --- Screenshots of failed tests -------------------------------------------------------

ARTIFACTS = ROOT / "artifacts" / "browser"
_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, for fixtures to see how the test went."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def artifact_path(name: str, suffix: str = ".png") -> Path:
    """``artifacts/browser/<name><suffix>``, with the name made safe for a file system."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / (re.sub(r"[^\w.]+", "-", name).strip("-") + suffix)


@pytest.fixture(autouse=True)
def _failure_screenshots(request):
    """On failure, save a screenshot of every open page to ``artifacts/browser/<test>.png``.

    Yields a list that tests fill (through ``new_page``) with the extra browser
    contexts they open; they are closed here, after the screenshots.
    """
    pages = []
    if "page" in request.fixturenames:
        pages.append(request.getfixturevalue("page"))
    extra_contexts: list = []
    yield extra_contexts
    try:
        reports = request.node.stash.get(_REPORTS, {})
        if any(r.failed for r in reports.values()):
            pages += [p for ctx in extra_contexts for p in ctx.pages]
            for n, page in enumerate(pages):
                name = request.node.name + (f"-{n + 1}" if n else "")
                try:
                    page.screenshot(path=str(artifact_path(name)), full_page=True, timeout=10_000)
                except Exception as exc:  # a crashed page must not hide the test's own error
                    print(f"no screenshot of {name}: {exc}")
    finally:
        for ctx in extra_contexts:
            ctx.close()


@pytest.fixture
def new_page(browser, browser_context_args, _failure_screenshots):
    """A page in a fresh browser context (another user), screenshotted on failure too."""

    def make(**context_args):
        ctx = browser.new_context(**{**browser_context_args, **context_args})
        _failure_screenshots.append(ctx)
        return ctx.new_page()

    return make


@pytest.fixture
def screenshot(request):
    """``screenshot(page, label)`` saves ``artifacts/browser/<test>-<label>.png``."""

    def save(page, label: str) -> Path:
        path = artifact_path(f"{request.node.name}-{label}")
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture(autouse=True)
def _playwright_can_poll(settings):
    """Playwright's wait_for_function evaluates its predicate with eval() inside the
    page, which the Content-Security-Policy forbids. The pages run under the real
    policy otherwise (shrutik/tests/test_security.py checks that our own scripts
    never evaluate strings)."""
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**directives, "script-src": [*directives["script-src"], "'unsafe-eval'"]}
    }
