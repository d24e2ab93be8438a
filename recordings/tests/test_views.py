"""The record page, and what erasing an account does to its recordings' audio."""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from contributors import services as contributor_services
from recordings.models import Chunk, Recording
from recordings.tests.factories import LanguageFactory, make_chunks, make_script

pytestmark = pytest.mark.django_db


def test_record_page_requires_login(client):
    response = client.get("/record/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_record_page_shows_the_next_script_sentence_by_sentence(client, contributor):
    script = make_script(LanguageFactory(), "রাতের আকাশে অনেক তারা। আমি দুধ দিয়ে চা খাই।")
    client.force_login(contributor)
    response = client.get("/record/?language=bn")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-script="{script.pk}"' in page
    assert page.count('<li data-index="') == 2
    assert "রাতের আকাশে অনেক তারা।" in page
    assert 'id="record-strings"' in page and "js/record.js" in page


def test_record_page_offers_a_script_of_the_chosen_length_only(client, contributor):
    make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    client.force_login(contributor)
    page = client.get("/record/?language=bn&length=10min").content.decode()
    assert "data-script=" not in page
    assert "You have recorded every script available" in page


def test_record_page_asks_for_consent_before_anything_else(client, make_user):
    make_script(LanguageFactory())
    user = make_user(consent_version="", consent_at=None)
    client.force_login(user)
    page = client.get("/record/").content.decode()
    assert "accept the contributor agreement" in page
    assert "data-script=" not in page


def test_record_page_strings_follow_the_interface_language(client, contributor):
    make_script(LanguageFactory())
    client.force_login(contributor)
    client.cookies["django_language"] = "bn"
    response = client.get("/record/")
    html = response.content.decode()
    strings = json.loads(
        html.split('id="record-strings" type="application/json">')[1].split("<")[0]
    )
    assert strings["pause"] == "বিরতি"
    assert 'lang="bn"' in html


def _store(key: str, data: bytes = b"audio") -> str:
    return default_storage.save(key, ContentFile(data))


@pytest.fixture
def stored_chunks(contributor):
    chunks = make_chunks(2, contributor=contributor)
    recording = chunks[0].recording
    recording.audio.name = _store(f"recordings/{recording.id}/original.webm")
    recording.save(update_fields=["audio"])
    for chunk in chunks:
        _store(chunk.audio.name)
    return recording, chunks


def test_erasing_with_delete_recordings_removes_the_audio_objects(
    contributor, stored_chunks, django_capture_on_commit_callbacks
):
    recording, chunks = stored_chunks
    keys = [recording.audio.name, *(c.audio.name for c in chunks)]
    assert all(default_storage.exists(k) for k in keys)
    with django_capture_on_commit_callbacks(execute=True):
        contributor_services.user_erase(user=contributor, delete_recordings=True)
    assert not any(default_storage.exists(k) for k in keys)
    recording.refresh_from_db()
    assert recording.audio.name == ""
    assert set(Chunk.objects.filter(recording=recording).values_list("status", flat=True)) == {
        "rejected"
    }


def test_erasing_without_delete_recordings_keeps_the_audio(
    contributor, stored_chunks, django_capture_on_commit_callbacks
):
    recording, chunks = stored_chunks
    with django_capture_on_commit_callbacks(execute=True):
        contributor_services.user_erase(user=contributor, delete_recordings=False)
    assert default_storage.exists(recording.audio.name)
    assert all(default_storage.exists(c.audio.name) for c in chunks)
    assert Recording.objects.get(pk=recording.pk).audio.name


def test_erasing_leaves_other_contributors_audio_alone(
    contributor, make_user, stored_chunks, django_capture_on_commit_callbacks
):
    other = make_user()
    (theirs,) = make_chunks(1, contributor=other)
    _store(theirs.audio.name)
    with django_capture_on_commit_callbacks(execute=True):
        contributor_services.user_erase(user=contributor, delete_recordings=True)
    assert default_storage.exists(theirs.audio.name)
    theirs.refresh_from_db()
    assert theirs.status == "open"
