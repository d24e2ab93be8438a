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
    # An empty length is not "you have recorded everything".
    assert "There are no scripts of this length in this language yet" in page
    assert "You have recorded every script available" not in page


def test_record_page_thanks_a_reader_who_recorded_every_script_of_a_length(client, contributor):
    script = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    Recording.objects.create(contributor=contributor, script=script, sha256="a" * 64)
    client.force_login(contributor)
    page = client.get("/record/?language=bn&length=single").content.decode()
    assert "You have recorded every script available" in page


def test_record_page_says_how_long_the_script_takes_to_read(client, contributor):
    script = make_script(LanguageFactory(), "রাতের আকাশে অনেক তারা। আমি দুধ দিয়ে চা খাই।")
    client.force_login(contributor)
    page = client.get("/record/?language=bn").content.decode()
    seconds = max(5, round(script.estimated_seconds / 5) * 5)
    assert f"About {seconds} seconds to read" in page
    # Two short sentences are not "about 2 minutes" any more.
    assert "About 2 minutes" not in page
    client.cookies["django_language"] = "bn"
    page = client.get("/record/?language=bn").content.decode()
    assert "পড়তে প্রায়" in page and str(seconds) not in page.split('id="reading-time">')[1][:40]


def test_a_rejected_reading_does_not_count_as_recorded(client, contributor):
    language = LanguageFactory()
    script = make_script(language, "আমি দুধ দিয়ে চা খাই।")
    rejected = Recording.objects.create(
        contributor=contributor, script=script, sha256="a" * 64, status="rejected"
    )
    client.force_login(contributor)
    page = client.get("/record/?language=bn").content.decode()
    assert f'data-script="{script.pk}"' in page
    # The dashboard's "record this script again" names it; the page offers it.
    again = client.get(f"/record/?script={script.pk}").content.decode()
    assert f'data-script="{script.pk}"' in again
    # A reading that was not rejected does count.
    Recording.objects.filter(pk=rejected.pk).update(status="chunked")
    assert "data-script=" not in client.get("/record/?language=bn").content.decode()
    assert "data-script=" not in client.get(f"/record/?script={script.pk}").content.decode()


def test_record_page_links_the_guidelines_and_states_the_licence(client, contributor):
    make_script(LanguageFactory())
    client.force_login(contributor)
    page = client.get("/record/").content.decode()
    assert 'href="/guidelines/#recording"' in page and 'href="/faq/"' in page
    assert "https://creativecommons.org/licenses/by/4.0/" in page and "CC-BY-4.0" in page
    assert 'id="script-report"' in page and 'data-reason="offensive"' in page


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
