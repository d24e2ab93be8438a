"""One end-to-end journey through the web UI, with a real worker behind it.

A reader signs up through the sign-up form, records the script through the
fake microphone and uploads it; the worker cuts it into one clip per sentence.
Two other users open the Contribute page; the server asks both to listen and
vote on the clips (they carry their script sentence), both say the same clip
matches, that validates it, and the first listener's dashboard shows it
validated.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from consensus.models import ConsensusDecision
from recordings.models import Chunk, ChunkStatus, Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from shrutik.testing import wait_until
from tests.browser.helpers import chunk_shown, elapsed_at_least
from transcriptions.models import Transcription

PASSWORD = "correct horse battery staple"

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def consensus_worker(monkeypatch, request):
    """The real worker, with audit sampling off: a validated chunk is otherwise sent
    to review at random (2 % of chunks, drawn from the chunk id), which would make
    this test fail now and then for no fault of the UI."""
    monkeypatch.setenv("CONSENSUS_CONFIG", json.dumps({"audit_rate": 0.0}))
    return request.getfixturevalue("worker")


def sign_in(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{base_url}/accounts/profile/")


def test_sign_up_record_transcribe_verify_and_see_it_validated(
    page, live_server, new_page, make_user, consensus_worker, fake_mic_wav
):
    meta = json.loads(audio_files.READING_JSON.read_text())
    make_script(LanguageFactory(), meta["script"])
    base = live_server.url

    # 1. A reader signs up through the form.
    page.goto(f"{base}/")
    page.get_by_role("link", name="Join as a contributor").click()
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Display name", exact=True).fill("Rina")
    page.get_by_label("Email", exact=True).fill("rina@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_label(re.compile("I agree to donate my voice")).check()
    page.locator("main").get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/accounts/profile/")
    expect(page.locator(".messages")).to_contain_text("Your account is ready")

    # 2. They record the script through the fake microphone and upload it.
    page.locator("nav").get_by_role("link", name="Record").click()
    recorder = page.locator("#recorder")
    expect(page.locator("#script li")).to_have_count(len(meta["sentences"]))
    page.get_by_role("button", name="Start recording").click()
    expect(recorder).to_have_attribute("data-state", "recording")
    seconds = float(meta["sentences"][-1]["end"]) + 1.0
    elapsed_at_least(page, seconds, timeout=40_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Upload").click()

    # 3. The worker cuts it into one clip per sentence; the page says so.
    expect(recorder).to_have_attribute("data-state", "chunked", timeout=90_000)
    expect(page.locator("#result-status")).to_contain_text(f"{len(meta['sentences'])} sentence")
    recording = Recording.objects.get(contributor__username="reader")
    assert recording.chunks.count() == len(meta["sentences"])

    # 4. Two other contributors sign in and contribute. The clips carry their
    # script sentence and nobody has contradicted it, so the server asks both
    # to listen and vote.
    first, second = make_user(), make_user()
    listening, checking = new_page(), new_page()
    sign_in(listening, base, first)
    sign_in(checking, base, second)
    listening.locator("nav").get_by_role("link", name="Contribute").click()
    target = chunk_shown(listening)
    checking.locator("nav").get_by_role("link", name="Contribute").click()
    offered = chunk_shown(checking)
    sentence = Chunk.objects.get(pk=target).expected_text
    assert sentence in [s["text"] for s in meta["sentences"]]
    expect(listening.locator("#task")).to_have_attribute("data-state", "verify")
    expect(listening.locator("#expected")).to_have_text(sentence)
    listening.get_by_role("button", name=re.compile("^Yes, it matches")).click()
    chunk_shown(listening, target)
    assert Transcription.objects.get(user=first).vote is True

    # The second listener skips until the same clip comes up, and answers by keyboard.
    for _ in range(len(meta["sentences"])):
        if offered == target:
            break
        checking.keyboard.press("s")
        offered = chunk_shown(checking, offered)
    assert offered == target
    expect(checking.locator("#expected")).to_have_text(sentence)
    checking.keyboard.press("y")
    expect(checking.locator("#done-count")).to_have_text("Done in this session: 1")

    # 5. Two agreeing votes validate the clip. 2% of validated chunks (drawn
    # from the chunk id) also go to a reviewer as an audit sample; the decision
    # is "validated" either way.
    def validated():
        return ConsensusDecision.objects.filter(chunk_id=target, outcome="validated").first()

    decision = wait_until(validated, timeout=30, what="a validated chunk")
    chunk = Chunk.objects.get(pk=target)
    assert chunk.consensus_text == sentence
    assert chunk.status == (ChunkStatus.NEEDS_REVIEW if decision.audit else ChunkStatus.VALIDATED)

    # 6. The first listener's dashboard shows the clip validated.
    listening.locator("nav").get_by_role("link", name="Dashboard").click()
    row = listening.locator("tr", has_text=sentence)
    if not decision.audit:
        expect(row.locator(".badge")).to_have_text("Validated")
    # The reader's dashboard lists the recording with its clips.
    page.locator("nav").get_by_role("link", name="Dashboard").click()
    reading = page.locator("tr", has=page.locator(".badge.status-chunked"))
    expect(reading).to_contain_text(str(len(meta["sentences"])))
