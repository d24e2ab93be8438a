"""Exports filter by campaign and name it in the datasheet."""

from __future__ import annotations

import pytest

from campaigns.models import CampaignRecording
from exports import datasheet
from exports.models import Export
from exports.tests.conftest import create_clips

pytestmark = pytest.mark.django_db


def test_an_export_of_one_campaign_holds_its_clips_only(
    api_client, researcher, organiser, make_campaign, make_user, django_capture_on_commit_callbacks
):
    campaign = make_campaign(organiser, name="Class 7")
    researcher_client = api_client
    researcher_client.force_authenticate(researcher)
    drive = create_clips(3, speaker=make_user(), seconds=2.0)
    create_clips(4, speaker=make_user(), seconds=2.0)
    CampaignRecording.objects.create(recording=drive[0].recording, campaign_id=campaign["id"])
    body = {"formats": ["nemo"], "filters": {"campaign": campaign["id"]}}
    counted = researcher_client.post("/api/exports/preview/", body, format="json").json()
    assert counted["clips"] == 3
    with django_capture_on_commit_callbacks():
        requested = researcher_client.post("/api/exports/", body, format="json")
    assert requested.status_code == 202, requested.content
    filters = Export.objects.get().filters
    assert (filters["campaign"], filters["campaign_name"]) == (campaign["id"], "Class 7")


def test_an_unknown_campaign_is_a_400(api_client, researcher):
    researcher_client = api_client
    researcher_client.force_authenticate(researcher)
    body = {"formats": ["nemo"], "filters": {"campaign": 999}}
    response = researcher_client.post("/api/exports/preview/", body, format="json")
    assert response.status_code == 400 and "999" in response.json()["detail"]


def test_the_datasheet_names_the_campaign():
    export = {"filters": {"campaign": 3, "campaign_name": "Class 7"}}
    assert datasheet._campaign_line(export) == ["- Campaign: Class 7 (the clips recorded for it)"]
    assert datasheet._campaign_line({"filters": {"campaign": None}}) == []
