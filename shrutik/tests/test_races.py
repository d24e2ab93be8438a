"""Identical requests racing each other on the compose web server and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from recordings.models import Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from recordings.tests.test_upload_api import stored_keys
from shrutik.tests.test_faults import app_env, gunicorn, login


@pytest.mark.django_db(transaction=True)
def test_parallel_copies_of_one_upload_make_one_recording(make_user, s3_server, tmp_path):
    script = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    audio = audio_files.speechlike(tmp_path / "ok.wav", seconds=3).read_bytes()
    copies = 8
    before = set(stored_keys(s3_server))

    with gunicorn(app_env(s3_server), workers=2) as web:

        def post(headers):
            return web.post(
                "/api/recordings/",
                headers=headers,
                data={"script": str(script.pk)},
                files={"audio": ("ok.wav", audio, "audio/wav")},
            )

        for _trial in range(3):
            user = make_user()
            headers = login(web, user)
            with ThreadPoolExecutor(max_workers=copies) as clients:
                answers = list(clients.map(post, [headers] * copies))
            log = Path(web.log_path).read_text()[-3000:]
            assert sorted(a.status_code for a in answers) == [200] * (copies - 1) + [201], log
            (recording,) = Recording.objects.filter(contributor=user)
            assert {a.json()["id"] for a in answers} == {str(recording.id)}
            assert stored_keys(s3_server, f"recordings/{recording.id}/") == [recording.audio.name]
    # No object of a losing copy is left anywhere.
    kept = {r.audio.name for r in Recording.objects.filter(script=script)}
    assert set(stored_keys(s3_server)) - before == kept
