"""POST /api/recordings/: what a client can send and what it gets back."""

import hashlib
import json

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recordings.models import Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script

pytestmark = pytest.mark.django_db


@pytest.fixture
def reading_script():
    meta = json.loads(audio_files.READING_JSON.read_text())
    return make_script(LanguageFactory(), meta["script"])


@pytest.fixture
def short_script():
    return make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")


def upload(client, script, path_or_bytes, name="reading.webm", **extra):
    content = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    audio = SimpleUploadedFile(name, content, content_type="audio/webm")
    return client.post(
        "/api/recordings/", {"script": script.pk, "audio": audio}, format="multipart", **extra
    )


def stored_keys(s3_server, prefix="recordings/"):
    s3 = boto3.client("s3", endpoint_url=s3_server["endpoint_url"], region_name="us-east-1")
    listing = s3.list_objects_v2(Bucket=s3_server["bucket"], Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_upload_stores_the_original_and_enqueues_processing_on_commit(
    auth_client, reading_script, s3_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(auth_client, reading_script, audio_files.READING)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "uploaded"
    assert body["container"] == "webm" and body["codec"] == "opus"
    assert 14.0 < body["duration"] < 15.5
    data = audio_files.READING.read_bytes()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size_bytes"] == len(data)
    recording = Recording.objects.get(pk=body["id"])
    assert recording.audio.name == f"recordings/{recording.id}/original.webm"
    assert recording.audio.name in stored_keys(s3_server)
    # Processing, and the news of the new recording for the apps above.
    assert len(callbacks) == 2
    reading_script.refresh_from_db()
    assert reading_script.recording_count == 1


def test_upload_without_consent_is_403(auth_client, short_script):
    auth_client.user.consent_at, auth_client.user.consent_version = None, ""
    auth_client.user.save()
    response = upload(auth_client, short_script, audio_files.READING)
    assert response.status_code == 403
    assert "agreement" in response.json()["detail"]


def test_upload_requires_script_and_audio(auth_client, short_script):
    response = auth_client.post("/api/recordings/", {"script": short_script.pk}, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("audio:")
    response = auth_client.post(
        "/api/recordings/",
        {"script": 999999, "audio": SimpleUploadedFile("a.webm", b"x")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("script:")


def test_upload_as_json_is_415(auth_client, short_script):
    response = auth_client.post(
        "/api/recordings/", {"script": short_script.pk, "audio": "abc"}, format="json"
    )
    assert response.status_code == 415
    assert response.json()["detail"]


def test_oversized_upload_is_413_before_it_is_read(auth_client, short_script, settings):
    settings.RECORDING_MAX_BYTES = 1000
    response = upload(auth_client, short_script, b"\0" * 200_000)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_the_request_body_limit_leaves_the_audio_file_out(auth_client, reading_script, settings):
    """DATA_UPLOAD_MAX_MEMORY_SIZE bounds form fields and JSON, not uploaded files."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    assert audio_files.READING.stat().st_size > 50 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = upload(auth_client, reading_script, audio_files.READING)
    assert response.status_code == 201, response.content
    # Text over the limit is refused in the API's shape, saying what the limit is.
    response = auth_client.post(
        "/api/recordings/",
        {"script": "1" * 2000, "audio": b""},
        format="multipart",
    )
    assert response.status_code == 413
    assert "over the 1.0\xa0KB limit" in response.json()["detail"]


def test_recording_longer_than_the_script_allows_is_400(auth_client, short_script, tmp_path):
    long = audio_files.speechlike(tmp_path / "long.ogg", seconds=90, codec=["-c:a", "libopus"])
    response = upload(auth_client, short_script, long, name="long.ogg")
    assert response.status_code == 400
    assert "longer than" in response.json()["detail"]


def test_recording_far_shorter_than_the_script_is_400(auth_client, reading_script, tmp_path):
    short = audio_files.speechlike(tmp_path / "short.wav", seconds=1.0)
    response = upload(auth_client, reading_script, short, name="short.wav")
    assert response.status_code == 400
    assert "at least" in response.json()["detail"]
    # A reader on the Bangla page is told the same in Bangla, with the figures.
    response = upload(
        auth_client, reading_script, short, name="short.wav", HTTP_ACCEPT_LANGUAGE="bn"
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("রেকর্ডিংটি 1.0 সেকেন্ডের") and "অন্তত" in detail, detail


# --- The bad-input corpus: a clear 4xx (or a correct decode), never a 500 ---------


def _truncated(tmp_path):
    return audio_files.READING.read_bytes()[:700]


def _wrong_magic(tmp_path):
    data = bytearray(audio_files.READING.read_bytes())
    data[:4] = b"RIFX"
    return bytes(data)


def _text_as_webm(tmp_path):
    return "এটা অডিও নয়, শুধু লেখা।\n".encode() * 50


def _header_claims_hours(tmp_path):
    import struct

    # A WAV header announcing ~6 hours of 48 kHz stereo audio with 1 s of data.
    rate, channels, bits = 48000, 2, 16
    data_bytes = rate * channels * 2
    claimed = 0x7FFFFFF0
    header = b"RIFF" + struct.pack("<I", claimed + 36) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, 4, bits)
    header += b"data" + struct.pack("<I", claimed)
    return header + b"\x01\x02" * (data_bytes // 2)


def _hour_of_silence(tmp_path):
    return audio_files.silence(tmp_path / "silence.webm", seconds=3600).read_bytes()


CORRUPT_CASES = {
    "zero_bytes": (lambda tmp: b"", 400, "empty"),
    "truncated": (_truncated, 400, "decoded"),
    "wrong_magic": (_wrong_magic, 415, "Unsupported"),
    "text_named_webm": (_text_as_webm, 415, "Unsupported"),
    "header_claims_hours": (_header_claims_hours, 400, None),
    "hour_of_silence_tiny_opus": (_hour_of_silence, 400, "longer than"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_CASES))
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(
    auth_client, short_script, tmp_path, s3_server, case
):
    make, expected_status, phrase = CORRUPT_CASES[case]
    before = set(stored_keys(s3_server))
    response = upload(auth_client, short_script, make(tmp_path), name="reading.webm")
    assert response.status_code == expected_status, response.content
    detail = response.json()["detail"]
    assert detail and (phrase is None or phrase in detail)
    assert not Recording.objects.exists()
    assert set(stored_keys(s3_server)) == before


@pytest.mark.parametrize(
    ("rate", "channels", "codec", "name"),
    [
        (96000, 2, ["-c:a", "pcm_s24le"], "stereo96k.wav"),
        (8000, 1, [], "mono8k.wav"),
        (48000, 1, ["-c:a", "flac"], "take.flac"),
        (44100, 2, ["-c:a", "libmp3lame"], "take.mp3"),
        (44100, 1, ["-c:a", "aac"], "take.m4a"),
        (48000, 1, ["-c:a", "libvorbis"], "take.ogg"),
    ],
)
def test_accepted_formats_are_decoded_not_trusted_by_name(
    auth_client, short_script, tmp_path, rate, channels, codec, name
):
    path = audio_files.speechlike(
        tmp_path / name, seconds=3, rate=rate, channels=channels, codec=codec
    )
    # The client's file name is irrelevant: send every file as "audio.bin".
    response = upload(auth_client, short_script, path, name="audio.bin")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sample_rate"] == rate and body["channels"] == channels
    assert 2.8 < body["duration"] < 3.3


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.webm", "..\\..\\boot.ini", "রেকর্ডিং ১.webm", "a\x00b.webm", "x" * 300],
)
def test_client_file_names_never_become_paths(auth_client, short_script, tmp_path, name):
    path = audio_files.speechlike(tmp_path / "ok.webm", seconds=3, codec=["-c:a", "libopus"])
    response = upload(auth_client, short_script, path, name=name)
    assert response.status_code in {201, 400}, response.content
    if response.status_code == 201:
        recording = Recording.objects.get(pk=response.json()["id"])
        assert recording.audio.name == f"recordings/{recording.id}/original.webm"


def test_uploads_are_throttled_per_user(auth_client, short_script, tmp_path, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "upload": "2/hour"}
    paths = [audio_files.speechlike(tmp_path / f"{i}.wav", seconds=3 + i / 5) for i in range(3)]
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [
            upload(auth_client, short_script, path, name="a.wav").status_code for path in paths
        ]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes == [201, 201, 429]


def test_list_and_detail_show_only_own_recordings(auth_client, short_script, make_user, tmp_path):
    path = audio_files.speechlike(tmp_path / "ok.wav", seconds=3)
    mine = upload(auth_client, short_script, path, name="a.wav").json()["id"]
    other = make_user()
    other_recording = Recording.objects.create(
        contributor=other, script=short_script, sha256="0" * 64
    )
    listing = auth_client.get("/api/recordings/").json()
    assert [r["id"] for r in listing["results"]] == [mine]
    assert auth_client.get(f"/api/recordings/{mine}/").status_code == 200
    assert auth_client.get(f"/api/recordings/{other_recording.id}/").status_code == 404


def test_reviewers_see_every_recording(api_client, reviewer, short_script, contributor):
    recording = Recording.objects.create(
        contributor=contributor, script=short_script, sha256="0" * 64
    )
    api_client.force_authenticate(reviewer)
    assert api_client.get(f"/api/recordings/{recording.id}/").status_code == 200
    assert api_client.get("/api/recordings/").json()["count"] == 1


def test_a_retried_upload_of_the_same_reading_returns_the_first(
    auth_client, short_script, tmp_path
):
    path = audio_files.speechlike(tmp_path / "ok.wav", seconds=3)
    first = upload(auth_client, short_script, path, name="a.wav")
    again = upload(auth_client, short_script, path, name="a.wav")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Recording.objects.count() == 1


def test_a_copy_that_loses_the_race_answers_with_the_winner_and_leaves_no_object(
    auth_client, short_script, tmp_path, s3_server, monkeypatch
):
    """Another request with the same bytes commits between this one's check and
    its insert: the database refuses the second row."""
    from recordings import services

    path = audio_files.speechlike(tmp_path / "ok.wav", seconds=3)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    before = set(stored_keys(s3_server))
    real_put = services.storage_put
    winner = {}

    def put_then_lose_the_race(key, fileobj, **kwargs):
        name = real_put(key, fileobj, **kwargs)
        winner["recording"] = Recording.objects.create(
            contributor=auth_client.user, script=short_script, sha256=digest
        )
        return name

    monkeypatch.setattr(services, "storage_put", put_then_lose_the_race)
    response = upload(auth_client, short_script, path, name="a.wav")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(winner["recording"].id)
    assert Recording.objects.count() == 1
    assert set(stored_keys(s3_server)) == before  # the loser's object is gone


@pytest.mark.django_db(transaction=True)
def test_an_upload_holds_no_database_connection_while_it_stores_the_audio(
    auth_client, reading_script, s3_server, monkeypatch
):
    """A web process has a few pooled connections for many requests; an upload
    gives its connection back for the seconds it spends on the audio."""
    from django.db import connection

    from recordings import services

    held = []

    def observed(function):
        def call(*args, **kwargs):
            held.append((function.__name__, connection.connection is not None))
            return function(*args, **kwargs)

        return call

    for name in ("recording_validate_audio", "storage_put"):
        monkeypatch.setattr(services, name, observed(getattr(services, name)))
    response = upload(auth_client, reading_script, audio_files.READING)
    assert response.status_code == 201, response.content
    assert held == [("recording_validate_audio", False), ("storage_put", False)]
    assert Recording.objects.filter(pk=response.json()["id"]).exists()


@pytest.mark.django_db(transaction=True)
def test_connection_release_keeps_a_transaction_open():
    from django.db import connection, transaction

    from shrutik.db import connection_release

    with transaction.atomic():
        connection.ensure_connection()
        connection_release()
        assert connection.connection is not None
    connection.ensure_connection()
    connection_release()
    assert connection.connection is None
