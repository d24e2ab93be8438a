"""The campaign API: organisers create and run campaigns; participants join by code."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import CampaignEvent, CampaignRecording, Participation
from campaigns.tests.conftest import campaign_fields
from recordings.models import Recording
from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script, reject_reading

pytestmark = pytest.mark.django_db


def join(client, user, code, **extra):
    client.force_authenticate(user)
    return client.post("/api/campaigns/join/", {"code": code, **extra}, format="json")


def test_an_organiser_creates_a_campaign_with_a_join_code(api_client, organiser):
    LanguageFactory()
    api_client.force_authenticate(organiser)
    response = api_client.post("/api/campaigns/", campaign_fields(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    code = body["join_code"].replace("-", "")
    assert len(code) == 8
    assert body["join_url"].endswith(f"/c/{code}")
    qr = api_client.get(body["qr_url"])
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content


def test_contributors_cannot_create_campaigns(auth_client):
    LanguageFactory()
    response = auth_client.post("/api/campaigns/", campaign_fields(), format="json")
    assert response.status_code == 403
    assert response.json()["detail"]


def test_staff_organise_too_a_reviewer_granted_as_the_admin_grants(api_client, make_user):
    from contributors.services import user_set_roles

    LanguageFactory()
    reviewer = make_user()
    user_set_roles(user=reviewer, roles={"contributor", "reviewer"})
    reviewer.refresh_from_db()
    assert reviewer.is_staff
    api_client.force_authenticate(reviewer)
    response = api_client.post("/api/campaigns/", campaign_fields(), format="json")
    assert response.status_code == 201, response.content


def test_a_campaign_must_end_after_it_starts(api_client, organiser):
    LanguageFactory()
    api_client.force_authenticate(organiser)
    fields = campaign_fields()
    fields["ends_at"] = fields["starts_at"]
    response = api_client.post("/api/campaigns/", fields, format="json")
    assert response.status_code == 400
    assert "end after" in response.json()["detail"]


def test_joining_by_code_in_any_case_and_the_progress_a_participant_sees(
    api_client, organiser, make_campaign, make_user
):
    campaign = make_campaign(organiser)
    reader = make_user()
    response = join(api_client, reader, campaign["join_code"].lower(), show_name=True)
    assert response.status_code == 200, response.content
    assert response.json()["number"] == 1
    detail = api_client.get(f"/api/campaigns/{campaign['id']}/")
    assert detail.status_code == 200
    progress = detail.json()["progress"]
    assert progress["participants"] == 1
    assert progress["recorded_minutes"] == 0
    assert progress["events"][0]["kind"] == "joined"
    assert detail.json()["organises"] is False


def test_a_wrong_code_is_a_clear_404(api_client, make_user, organiser, make_campaign):
    make_campaign(organiser)
    for code in ("ABCD-EFGH", "nonsense!", ""):
        response = join(api_client, make_user(), code)
        assert response.status_code in (400, 404)
        assert response.json()["detail"]


def test_joins_are_throttled(api_client, make_user):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {
        **api_settings.DEFAULT_THROTTLE_RATES,
        "campaign_join": "3/min",
    }
    try:
        guesser = make_user()
        answers = [join(api_client, guesser, f"ABCDEFG{c}") for c in "2345"]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert answers[-1].json()["detail"]


def test_an_organiser_sees_and_edits_only_their_own_campaigns(
    api_client, organiser, make_user, make_campaign
):
    other = make_user(roles=["contributor", "organiser"])
    mine = make_campaign(organiser)
    theirs = make_campaign(other, name="Theirs")
    api_client.force_authenticate(organiser)
    listed = [c["id"] for c in api_client.get("/api/campaigns/").json()]
    assert listed == [mine["id"]]
    assert api_client.get(f"/api/campaigns/{theirs['id']}/").status_code == 404
    patch = api_client.patch(f"/api/campaigns/{theirs['id']}/", {"name": "x"}, format="json")
    assert patch.status_code == 404
    assert api_client.post(f"/api/campaigns/{theirs['id']}/close/").status_code == 404
    edited = api_client.patch(
        f"/api/campaigns/{mine['id']}/", {"goal_recorded_minutes": 90}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["goal_recorded_minutes"] == 90


def test_admins_see_every_campaign(api_client, organiser, make_campaign, make_user):
    campaign = make_campaign(organiser)
    admin = make_user(is_superuser=True)
    api_client.force_authenticate(admin)
    assert [c["id"] for c in api_client.get("/api/campaigns/").json()] == [campaign["id"]]
    assert api_client.get(f"/api/campaigns/{campaign['id']}/").json()["organises"] is True


def test_strangers_see_nothing_of_a_campaign(api_client, organiser, make_campaign, make_user):
    campaign = make_campaign(organiser)
    api_client.force_authenticate(make_user())
    assert api_client.get(f"/api/campaigns/{campaign['id']}/").status_code == 404
    assert api_client.get(f"/api/campaigns/{campaign['id']}/qr.svg").status_code == 404


def test_pause_resume_and_close(api_client, organiser, make_campaign, make_user):
    campaign = make_campaign(organiser)
    url = f"/api/campaigns/{campaign['id']}"
    api_client.force_authenticate(organiser)
    assert api_client.post(f"{url}/pause/").json()["status"] == "paused"
    assert api_client.post(f"{url}/resume/").json()["status"] == "active"
    closed = api_client.post(f"{url}/close/")
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    again = api_client.post(f"{url}/resume/")
    assert again.status_code == 409 and again.json()["detail"]
    edit = api_client.patch(f"{url}/", {"name": "Later"}, format="json")
    assert edit.status_code == 409
    late = join(api_client, make_user(), campaign["join_code"])
    assert late.status_code == 409 and late.json()["detail"]
    kinds = list(CampaignEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["paused", "resumed", "closed"]


def test_leaving_a_campaign(api_client, organiser, make_campaign, make_user):
    campaign = make_campaign(organiser)
    reader = make_user()
    join(api_client, reader, campaign["join_code"])
    assert api_client.post(f"/api/campaigns/{campaign['id']}/leave/").status_code == 204
    assert api_client.get(f"/api/campaigns/{campaign['id']}/").status_code == 404
    assert api_client.post(f"/api/campaigns/{campaign['id']}/leave/").status_code == 404
    assert Participation.objects.get(user=reader).left_at is not None


def test_a_participant_gets_the_campaigns_scripts_first_and_their_readings_are_tagged(
    api_client,
    organiser,
    make_campaign,
    make_user,
    reading_script,
    s3_server,
    django_capture_on_commit_callbacks,
):
    language = reading_script.language
    for n in range(3):
        make_script(language, f"অন্য একটি বাক্য নম্বর {['এক', 'দুই', 'তিন'][n]}।")
    campaign = make_campaign(organiser, scripts=[reading_script.pk])
    reader = make_user()
    join(api_client, reader, campaign["join_code"], show_name=True)
    nxt = api_client.get("/api/scripts/next/", {"language": "bn"})
    assert nxt.json()["id"] == reading_script.pk
    audio = SimpleUploadedFile("r.webm", audio_files.READING.read_bytes(), "audio/webm")
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = api_client.post(
            "/api/recordings/", {"script": reading_script.pk, "audio": audio}, format="multipart"
        )
    assert uploaded.status_code == 201, uploaded.content
    link = CampaignRecording.objects.get(recording_id=uploaded.json()["id"])
    assert link.campaign_id == campaign["id"]
    progress = api_client.get(f"/api/campaigns/{campaign['id']}/").json()["progress"]
    assert progress["recordings"]["waiting"] == 1
    assert progress["recorded_minutes"] > 0.2
    assert progress["top_participants"][0]["name"] == str(reader)
    assert progress["events"][0]["kind"] == "uploaded"
    # Once read, the campaign's script is no longer offered; others follow.
    assert api_client.get("/api/scripts/next/", {"language": "bn"}).json()["id"] != (
        reading_script.pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        reject_reading(uploaded.json()["id"])
    progress = api_client.get(f"/api/campaigns/{campaign['id']}/").json()["progress"]
    assert progress["recordings"] == {"waiting": 0, "chunked": 0, "rejected": 1}
    assert progress["recorded_minutes"] == 0
    assert progress["events"][0]["kind"] == "rejected"


def test_names_are_shown_only_to_those_who_opt_in(api_client, organiser, make_campaign, make_user):
    campaign = make_campaign(organiser)
    shy, proud = make_user(display_name="Shy"), make_user(display_name="Proud")
    join(api_client, shy, campaign["join_code"])
    join(api_client, proud, campaign["join_code"], show_name=True)
    api_client.force_authenticate(organiser)
    events = api_client.get(f"/api/campaigns/{campaign['id']}/").json()["progress"]["events"]
    assert [e["who"] for e in events] == ["Proud", "participant 1"]


def test_recordings_outside_a_campaign_are_not_tagged(reading_script, contributor):
    recording = Recording.objects.create(
        contributor=contributor, script=reading_script, sha256="1" * 64
    )
    from campaigns.services import recording_link

    assert recording_link(recording_id=recording.pk) is None


def test_a_decided_chunk_counts_as_validated(
    api_client, organiser, make_campaign, make_user, django_capture_on_commit_callbacks
):
    from consensus.services import chunk_review
    from recordings.tests.factories import make_chunks

    campaign = make_campaign(organiser)
    reader = make_user()
    join(api_client, reader, campaign["join_code"])
    chunks = make_chunks(2, contributor=reader, expected_text="আমি দুধ দিয়ে চা খাই।")
    CampaignRecording.objects.create(recording=chunks[0].recording, campaign_id=campaign["id"])
    with django_capture_on_commit_callbacks(execute=True):
        chunk_review(chunk_id=chunks[0].pk, reviewer=organiser, action="accept")
    progress = api_client.get(f"/api/campaigns/{campaign['id']}/").json()["progress"]
    assert progress["chunks_validated"] == 1
    assert progress["validated_minutes"] == round(2.5 / 60, 2)
    assert progress["events"][0]["kind"] == "validated"


def test_an_erased_participant_is_no_longer_named(
    api_client, organiser, make_campaign, make_user, django_capture_on_commit_callbacks
):
    from contributors.services import user_erase

    campaign = make_campaign(organiser)
    reader = make_user(display_name="Mina")
    join(api_client, reader, campaign["join_code"], show_name=True)
    with django_capture_on_commit_callbacks(execute=True):
        user_erase(user=reader)
    api_client.force_authenticate(organiser)
    progress = api_client.get(f"/api/campaigns/{campaign['id']}/").json()["progress"]
    assert progress["participants"] == 0
    assert [e["who"] for e in progress["events"]] == ["participant 1"]
