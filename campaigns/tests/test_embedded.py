"""Campaign progress on the embedded shape: one web process, a worker process,
SQLite and the filesystem broker, no Redis. The worker's events reach the
web process's sockets through the database (campaigns/hub.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import requests

from campaigns.tests.test_socket import next_progress
from recordings.tests.audio_files import READING, READING_JSON
from shrutik.testing import run_coroutine
from shrutik.tests.test_embedded import embedded, make_script, shell, sign_up  # noqa: F401

pytestmark = pytest.mark.e2e


def test_a_workers_chunking_reaches_a_watcher_on_the_embedded_shape(embedded):  # noqa: F811
    base, env = embedded.base, embedded.env
    script_id = make_script(env, READING_JSON)
    organiser, reader = sign_up(base, "organiser1"), sign_up(base, "reader1")
    shell(
        env,
        "from contributors.models import User; from contributors.services import user_set_roles; "
        "u = User.objects.get(username='organiser1'); "
        "user_set_roles(user=u, roles={'contributor', 'organiser'}); print('ok')",
    )
    now = datetime.now(UTC)
    created = requests.post(
        f"{base}/api/campaigns/",
        json={
            "name": "Embedded drive",
            "language": "bn",
            "goal_recorded_minutes": 5,
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
        headers=organiser,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    joined = requests.post(
        f"{base}/api/campaigns/join/",
        json={"code": campaign["join_code"]},
        headers=reader,
        timeout=10,
    )
    assert joined.status_code == 200, joined.text
    token = organiser["Authorization"].split()[1]

    async def follow():
        from websockets.asyncio.client import connect

        ws_url = base.replace("http", "ws") + f"/ws/campaigns/{campaign['id']}/?token={token}"
        async with connect(ws_url, origin=base, open_timeout=20) as ws:
            assert (await next_progress(ws))["participants"] == 1
            with open(READING, "rb") as audio:
                uploaded = await asyncio.to_thread(
                    requests.post,
                    f"{base}/api/recordings/",
                    data={"script": script_id},
                    files={"audio": ("r.webm", audio.read(), "audio/webm")},
                    headers=reader,
                    timeout=60,
                )
            assert uploaded.status_code == 201, uploaded.text
            chunked = await next_progress(ws, lambda p: p["recordings"]["chunked"] == 1)
            assert chunked["events"][0]["kind"] == "chunked"

    run_coroutine(follow)
