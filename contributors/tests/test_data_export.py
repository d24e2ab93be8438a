"""Profile: consent, and "download my data" (a streamed zip of everything given)."""

import csv
import io
import json
import zipfile

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from recordings.tests.factories import make_chunks
from transcriptions.models import Transcription

pytestmark = pytest.mark.django_db

AUDIO = b"\x1aE\xdf\xa3 pretend webm " * 5000


def download(client) -> zipfile.ZipFile:
    response = client.get("/dashboard/my-data.zip")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "attachment;" in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_download_requires_login(client):
    assert client.get("/dashboard/my-data.zip").status_code == 302


def test_download_contains_my_audio_transcriptions_and_metadata(client, contributor, make_user):
    (mine,) = make_chunks(1, contributor=contributor)
    recording = mine.recording
    recording.audio.name = default_storage.save(
        f"recordings/{recording.id}/original.webm", ContentFile(AUDIO)
    )
    recording.save(update_fields=["audio"])
    (theirs,) = make_chunks(1, contributor=make_user())
    Transcription.objects.create(chunk=theirs, user=contributor, text="রাতের আকাশে", flags=["noise"])
    Transcription.objects.create(chunk=mine, user=make_user(), text="someone else's")
    client.force_login(contributor)

    archive = download(client)
    assert archive.testzip() is None
    assert archive.read(f"recordings/{recording.id}.webm") == AUDIO
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["username"] == contributor.username
    assert [r["id"] for r in data["recordings"]] == [str(recording.id)]
    assert data["recordings"][0]["audio_file"] == f"recordings/{recording.id}.webm"
    assert [t["text"] for t in data["transcriptions"]] == ["রাতের আকাশে"]
    rows = list(csv.DictReader(io.StringIO(archive.read("transcriptions.csv").decode())))
    assert rows[0]["flags"] == "noise" and rows[0]["chunk"] == str(theirs.id)
    rows = list(csv.DictReader(io.StringIO(archive.read("recordings.csv").decode())))
    assert rows[0]["id"] == str(recording.id)
    assert "someone else's" not in archive.read("data.json").decode()


def test_download_contains_my_requests_for_researcher_access(client, contributor, make_user):
    from exports.models import AccessRequest

    for user in (contributor, make_user()):
        AccessRequest.objects.create(
            user=user, name=user.username, institution="BUET", email="r@example.org",
            purpose="A speech recogniser for a helpline.", terms_version="2026-12",
        )  # fmt: skip
    client.force_login(contributor)
    (request,) = json.loads(download(client).read("data.json"))["researcher_access_requests"]
    assert request["name"] == contributor.username and request["status"] == "pending"
    assert request["purpose"] == "A speech recogniser for a helpline."


def test_download_with_nothing_contributed_is_a_valid_zip(client, contributor):
    client.force_login(contributor)
    archive = download(client)
    assert json.loads(archive.read("data.json"))["recordings"] == []


def test_withdrawing_and_giving_consent_from_the_profile(client, contributor):
    client.force_login(contributor)
    assert client.post("/accounts/profile/consent/", {"action": "withdraw"}).status_code == 302
    contributor.refresh_from_db()
    assert not contributor.has_consented
    page = client.get("/accounts/profile/").content.decode()
    assert "You have not accepted the contributor agreement" in page
    client.post("/accounts/profile/consent/", {"action": "give"})
    contributor.refresh_from_db()
    assert contributor.has_consented and contributor.consent_version == settings.CONSENT_VERSION


def test_profile_offers_the_download_and_the_erase_choice(client, contributor):
    client.force_login(contributor)
    html = client.get("/accounts/profile/").content.decode()
    assert 'href="/dashboard/my-data.zip"' in html
    assert 'name="delete_recordings"' in html
