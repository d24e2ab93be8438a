"""Privacy promises end to end: erasure, exports of pseudonyms, suppressed small cohorts,
and the data takeout."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import override_settings

from contributors.models import User
from contributors.services import user_set_roles
from exports import services as export_services
from exports.pseudonyms import speaker_pseudonym
from exports.tests.conftest import create_clips, download

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the factory's


def build(requester, formats):
    export = export_services.export_create(requester=requester, formats=formats)
    export_services.export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "done", export.error
    return export


def every_byte(root) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def speakers(make_user, n, **fields):
    people = [make_user(**fields) for _ in range(n)]
    for person in people:
        create_clips(2, speaker=person)
    return people


def test_erasing_from_the_profile_removes_personal_data(
    client, api_client, make_user, django_capture_on_commit_callbacks
):
    user = make_user(
        first_name="Rina",
        last_name="Das",
        display_name="Rina D.",
        email="rina@example.org",
        age_range="twenties",
        gender="female",
        native_language="bn",
        dialect="Sylheti",
        show_on_leaderboard=True,
    )
    # A reviewer, as the admin makes one: staff status and two groups to lose.
    user_set_roles(user=user, roles={"contributor", "reviewer"})
    user.refresh_from_db()
    assert user.is_staff and user.groups.count() == 2
    username = user.username
    api_client.post("/api/auth/token/", {"username": username, "password": "wrong"})
    assert AccessAttempt.objects.filter(username=username).exists()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/profile/erase/", {"confirm": username})
    assert response.status_code == 302

    user = User.objects.get(pk=user.pk)
    assert user.username.startswith("erased-") and username not in user.username
    personal = (
        "first_name",
        "last_name",
        "display_name",
        "email",
        "age_range",
        "gender",
        "native_language",
        "dialect",
        "consent_version",
    )
    assert {f: getattr(user, f) for f in personal} == dict.fromkeys(personal, "")
    assert user.consent_at is None and user.erased_at is not None
    assert not (user.show_on_leaderboard or user.is_active or user.is_staff)
    assert not user.groups.exists() and not user.has_usable_password()
    assert not AccessAttempt.objects.filter(username=username).exists()
    # Signed out, and the old credentials open nothing.
    assert client.get("/accounts/profile/").status_code == 302
    token = api_client.post(
        "/api/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert token.status_code == 401


def test_an_erased_contributor_never_appears_in_a_new_export(
    client, make_user, researcher, tmp_path, django_capture_on_commit_callbacks
):
    people = speakers(make_user, 6, gender="female", age_range="thirties")
    gone = people[0]
    client.force_login(gone)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/profile/erase/", {"confirm": gone.username})

    export = build(researcher, ["commonvoice", "huggingface", "kaldi"])
    assert export.stats["totals"]["speakers"] == 5
    blob = every_byte(download(export, tmp_path / "x"))
    for secret in (gone.speaker_id, speaker_pseudonym(gone.speaker_id), gone.username, gone.email):
        assert secret.encode() not in blob
    assert speaker_pseudonym(people[1].speaker_id).encode() in blob


def test_exported_speaker_ids_depend_on_the_key_and_hide_the_speaker_id(
    make_user, researcher, tmp_path
):
    people = speakers(make_user, 5, gender="male")

    def exported_ids(key: str, dest) -> set[str]:
        with override_settings(EXPORT_SPEAKER_KEY=key):
            root = download(build(researcher, ["commonvoice"]), dest)
        blob = every_byte(root)
        assert not any(p.speaker_id.encode() in blob for p in people)
        ids = set()
        for tsv in root.rglob("*.tsv"):
            for row in csv.DictReader(io.StringIO(tsv.read_text()), delimiter="\t"):
                if row.get("client_id"):
                    ids.add(row["client_id"])
        return ids

    one = exported_ids("first key", tmp_path / "a")
    two = exported_ids("second key", tmp_path / "b")
    assert len(one) == len(two) == 5
    assert not one & two
    with override_settings(EXPORT_SPEAKER_KEY="first key"):
        assert one == {speaker_pseudonym(p.speaker_id) for p in people}


def test_every_demographic_table_is_withheld_below_five_speakers(make_user, researcher):
    speakers(make_user, 4, gender="other", age_range="sixties", dialect="Chittagong")
    export = build(researcher, ["huggingface"])
    (language,) = export.stats["languages"].values()
    assert language["speakers"] == 4 and language["demographics"] is None
    readme = default_storage.open(export.prefix + "README.md").read().decode()
    assert "withheld" in readme
    for table in ("Gender (speakers)", "Age (speakers)", "Accent / region (speakers)"):
        assert table not in readme
    for value in ("other", "sixties", "Chittagong"):
        assert f"| {value} |" not in readme
    stats = json.dumps(export.stats)
    assert "sixties" not in stats and "Chittagong" not in stats


def test_per_clip_demographics_are_withheld_below_five_speakers(make_user, researcher, tmp_path):
    speakers(make_user, 4, gender="other", age_range="sixties", dialect="Chittagong")
    blob = every_byte(download(build(researcher, ["commonvoice"]), tmp_path / "x"))
    assert b"sixties" not in blob and b"Chittagong" not in blob


def test_the_takeout_holds_profile_consent_and_identifiers(client, make_user):
    user = make_user(display_name="Rina", gender="female", dialect="Sylheti")
    client.force_login(user)
    response = client.get("/dashboard/my-data.zip")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    profile = json.loads(archive.read("data.json"))["profile"]
    assert profile["consent_version"] == settings.CONSENT_VERSION
    assert profile["consent_at"] and profile["date_joined"]
    assert profile["speaker_id"] == user.speaker_id
    assert (profile["display_name"], profile["gender"], profile["dialect"]) == (
        "Rina",
        "female",
        "Sylheti",
    )
