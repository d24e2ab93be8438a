"""Recording through the live stream in Chromium, with the network cut mid-reading.

The page is served by the ASGI app (pages and the WebSocket from one server);
Chromium's fake microphone plays the shared Bangla reading.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from live.models import LiveSession, LiveStatus
from recordings.audio import decode
from recordings.models import Recording
from recordings.tests.factories import LanguageFactory, make_script
from shrutik.storage import storage_copy_to_temp
from tests.browser.conftest import reading_source
from tests.browser.helpers import elapsed_at_least

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_streams_survives_going_offline_and_ends_as_one_recording(
    page, context, asgi_server, asgi_login, make_user, worker, tmp_path
):
    meta = json.loads(reading_source().with_suffix(".json").read_text())
    make_script(LanguageFactory(), meta["script"])
    reader = make_user()
    asgi_login(reader)

    page.goto(f"{asgi_server.url}/record/")
    recorder = page.locator("#recorder")
    expect(page.locator("#script li")).to_have_count(len(meta["sentences"]))
    page.get_by_role("button", name="Start recording").click()
    expect(recorder).to_have_attribute("data-state", "recording")
    expect(recorder).to_have_attribute("data-live", "connected", timeout=15_000)
    assert recorder.get_attribute("data-mode") == "live"

    elapsed_at_least(page, 5)
    context.set_offline(True)
    expect(recorder).to_have_attribute("data-live", "reconnecting", timeout=10_000)
    elapsed_at_least(page, 8)
    context.set_offline(False)
    expect(recorder).to_have_attribute("data-live", "connected", timeout=20_000)
    # Feedback from the server moves the highlight along the script.
    page.wait_for_function(
        "() => Number(document.getElementById('recorder').dataset.liveSentence) >= 2",
        timeout=20_000,
    )
    elapsed_at_least(page, float(meta["sentences"][-1]["end"]) + 1.0)
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Upload").click()

    expect(recorder).to_have_attribute("data-state", "chunked", timeout=120_000)
    expect(page.locator("#result-status")).to_contain_text(f"{len(meta['sentences'])} sentence")
    assert int(recorder.get_attribute("data-live-reconnects")) >= 1

    recording = Recording.objects.get(contributor=reader)  # exactly one
    session = LiveSession.objects.get(user=reader)
    assert session.status == LiveStatus.ENDED and session.recording_id == recording.pk
    assert recording.chunks.count() == len(meta["sentences"])
    # Nothing was lost while offline: the stored audio lasts as long as the reading.
    audio = storage_copy_to_temp(recording.audio.name, directory=str(tmp_path))
    assert decode.measure_duration(audio, max_seconds=600) >= meta["sentences"][-1]["end"]
