"""The export form's preview: what an export would hold, before it is asked for."""

from __future__ import annotations

import pytest

from exports.models import Export
from exports.tests.conftest import create_clips
from recordings.tests.factories import LanguageFactory

pytestmark = pytest.mark.django_db

URL = "/api/exports/preview/"


def test_the_preview_counts_clips_hours_and_speakers_per_language(
    researcher_client, make_user, django_assert_max_num_queries
):
    bangla, english = LanguageFactory(), LanguageFactory(code="en", name="English")
    both = make_user(gender="female")
    create_clips(3, speaker=both, language=bangla, seconds=2.0)
    create_clips(2, speaker=both, language=english, seconds=1.5)
    create_clips(4, speaker=make_user(gender="male"), language=bangla, seconds=3.0)
    create_clips(1, speaker=make_user(), language=bangla, status="rejected", seconds=9.0)
    with django_assert_max_num_queries(6):
        response = researcher_client.post(URL, {"formats": ["nemo"]}, format="json")
    assert response.status_code == 200, response.json()
    counted = response.json()
    assert (counted["clips"], counted["seconds"], counted["speakers"]) == (9, 21.0, 2)
    assert counted["hours"] == round(21.0 / 3600, 4)
    assert counted["languages"]["bn"] == {
        "clips": 7, "seconds": 18.0, "hours": round(18 / 3600, 4), "speakers": 2,
    }  # fmt: skip
    assert counted["languages"]["en"]["clips"] == 2
    # The filters an export takes narrow it the same way.
    body = {"formats": ["nemo"], "filters": {"languages": ["en"], "genders": ["female"]}}
    narrowed = researcher_client.post(URL, body, format="json").json()
    assert (narrowed["clips"], narrowed["speakers"], list(narrowed["languages"])) == (2, 1, ["en"])
    body = {"formats": ["nemo"], "filters": {"statuses": ["validated", "rejected"]}}
    assert researcher_client.post(URL, body, format="json").json()["clips"] == 10
    assert not Export.objects.exists()  # counting asks for nothing


def test_an_empty_preview_says_zero(researcher_client):
    counted = researcher_client.post(URL, {"formats": ["nemo"]}, format="json").json()
    assert counted == {"clips": 0, "seconds": 0.0, "hours": 0.0, "speakers": 0, "languages": {}}


def test_the_preview_refuses_what_the_request_would(researcher_client, api_client, contributor):
    response = researcher_client.post(
        URL, {"formats": ["nemo"], "filters": {"languages": ["xx"]}}, format="json"
    )
    assert response.status_code == 400 and "Unknown language" in response.json()["detail"]
    api_client.force_authenticate(contributor)
    assert api_client.post(URL, {"formats": ["nemo"]}, format="json").status_code == 403
