"""Upload → chunks through a real Celery worker on PostgreSQL, Redis and S3."""

import json

import boto3
import pytest
import soundfile

from recordings.models import Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script
from recordings.tests.test_upload_api import stored_keys, upload
from shrutik.testing import wait_until

pytestmark = [pytest.mark.e2e]


def final_status(recording_id):
    status = Recording.objects.filter(pk=recording_id).values_list("status", flat=True).first()
    return status if status in {"chunked", "rejected", "failed"} else None


def test_upload_is_chunked_by_a_real_worker(worker, api_client, contributor, s3_server, tmp_path):
    meta = json.loads(audio_files.READING_JSON.read_text())
    script = make_script(LanguageFactory(), meta["script"])
    api_client.force_authenticate(contributor)
    response = upload(api_client, script, audio_files.READING)
    assert response.status_code == 201, response.content
    recording_id = response.json()["id"]

    status = wait_until(lambda: final_status(recording_id), timeout=120, what="processing")
    assert status == "chunked", Recording.objects.get(pk=recording_id).rejection_reason

    recording = Recording.objects.get(pk=recording_id)
    chunks = list(recording.chunks.order_by("index"))
    assert len(chunks) == len(meta["sentences"])
    assert [c.expected_text for c in chunks] == [s["text"] for s in meta["sentences"]]
    assert recording.level_dbfs is not None and recording.snr_db is not None
    assert 0.3 < recording.speech_ratio <= 1.0

    s3 = boto3.client("s3", endpoint_url=s3_server["endpoint_url"], region_name="us-east-1")
    keys = stored_keys(s3_server, prefix=f"chunks/{recording_id}/")
    assert sorted(keys) == sorted(f"chunks/{recording_id}/{i}.flac" for i in range(len(chunks)))
    first = s3.get_object(Bucket=s3_server["bucket"], Key=chunks[0].audio.name)["Body"].read()
    path = tmp_path / "c.flac"
    path.write_bytes(first)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
    assert abs(info.duration - chunks[0].duration) < 0.05

    detail = api_client.get(f"/api/recordings/{recording_id}/").json()
    assert detail["status"] == "chunked"
    assert detail["chunk_count"] == len(chunks)
    assert detail["chunks"][0]["audio_url"].startswith(s3_server["endpoint_url"])


def test_silent_recording_is_rejected_with_a_reason(worker, api_client, contributor, tmp_path):
    script = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    api_client.force_authenticate(contributor)
    path = audio_files.silence(tmp_path / "s.webm", seconds=4)
    response = upload(api_client, script, path)
    assert response.status_code == 201, response.content
    recording_id = response.json()["id"]
    assert wait_until(lambda: final_status(recording_id), timeout=60, what="processing") == (
        "rejected"
    )
    recording = Recording.objects.get(pk=recording_id)
    assert "silent" in recording.rejection_reason.lower()
    assert not recording.chunks.exists()
    # The worker knows no language; the page asking shows the reason in its own.
    english = api_client.get(f"/api/recordings/{recording_id}/").json()["rejection_reason"]
    assert english == recording.rejection_reason
    bangla = api_client.get(f"/api/recordings/{recording_id}/", HTTP_ACCEPT_LANGUAGE="bn").json()
    assert bangla["rejection_reason"].startswith("রেকর্ডিংটি নিঃশব্দ")
