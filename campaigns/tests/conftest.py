from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from recordings.tests import audio_files
from recordings.tests.factories import LanguageFactory, make_script


@pytest.fixture
def organiser(make_user):
    return make_user(roles=["contributor", "organiser"])


@pytest.fixture
def reading_script(db):
    meta = json.loads(audio_files.READING_JSON.read_text())
    return make_script(LanguageFactory(), meta["script"])


def campaign_fields(**overrides) -> dict:
    now = timezone.now()
    return {
        "name": "Class 7 reading drive",
        "description": "Read for ten minutes each.",
        "language": "bn",
        "goal_recorded_minutes": 30,
        "goal_validated_minutes": 10,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        **overrides,
    }


@pytest.fixture
def make_campaign(api_client):
    """A campaign created through the API by ``organiser``; returns its JSON."""

    def make(organiser, **overrides):
        LanguageFactory()
        api_client.force_authenticate(organiser)
        response = api_client.post("/api/campaigns/", campaign_fields(**overrides), format="json")
        assert response.status_code == 201, response.content
        api_client.force_authenticate(None)
        return response.json()

    return make


@pytest.fixture
def asgi_server(transactional_db):
    from live.tests.conftest import run_asgi_server

    with run_asgi_server() as server:
        yield server


def watch(server, campaign_id, *, token: str | None = None, origin: bool | str = True):
    """A socket on a campaign's progress; ``origin`` True sends the server's own."""
    from websockets.asyncio.client import connect

    query = f"?token={token}" if token else ""
    return connect(
        f"{server.ws_url}/ws/campaigns/{campaign_id}/{query}",
        origin=server.url if origin is True else origin or None,
        open_timeout=20,
    )
