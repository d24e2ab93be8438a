"""/ws/campaigns/<id>/ against a real uvicorn server, with a real worker cutting the readings."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from websockets.exceptions import ConnectionClosed, InvalidStatus

from campaigns.tests.conftest import watch
from live.tests.conftest import access_token
from recordings.tests import audio_files

pytestmark = pytest.mark.django_db(transaction=True)


async def next_progress(ws, until=lambda p: True, timeout: float = 120) -> dict:
    """The first progress message for which ``until`` holds."""

    async def wait():
        while True:
            message = json.loads(await ws.recv())
            assert message["type"] == "progress", message
            if until(message):
                return message

    return await asyncio.wait_for(wait(), timeout)


@pytest.mark.e2e
def test_progress_arrives_when_a_worker_chunks_a_participants_upload(
    asgi_server, worker, api_client, organiser, make_campaign, make_user, reading_script
):
    campaign = make_campaign(organiser)
    reader = make_user()
    api_client.force_authenticate(reader)
    joined = api_client.post("/api/campaigns/join/", {"code": campaign["join_code"]})
    assert joined.status_code == 200, joined.content

    async def follow():
        async with watch(asgi_server, campaign["id"], token=access_token(organiser)) as ws:
            first = await next_progress(ws)
            assert first["participants"] == 1 and first["recordings"]["chunked"] == 0
            audio = SimpleUploadedFile("r.webm", audio_files.READING.read_bytes(), "audio/webm")
            uploaded = await asyncio.to_thread(
                api_client.post,
                "/api/recordings/",
                {"script": reading_script.pk, "audio": audio},
                format="multipart",
            )
            assert uploaded.status_code == 201, uploaded.content
            # Messages are coalesced per tick: a worker that cuts the reading
            # within one sends "uploaded" and "chunked" in the same message.
            chunked = await next_progress(ws, lambda p: p["recordings"]["chunked"] == 1)
            assert chunked["recordings"]["waiting"] == 0
            assert chunked["recorded_minutes"] > 0.2
            assert [e["kind"] for e in chunked["events"][:2]] == ["chunked", "uploaded"]
            assert chunked["events"][0]["who"] == "participant 1"

    asyncio.run(follow())


def test_sockets_check_the_token_the_origin_and_the_campaign(
    asgi_server, organiser, make_campaign, make_user
):
    campaign = make_campaign(organiser)
    stranger = access_token(make_user())
    token = access_token(organiser)

    async def refused(**kwargs) -> int:
        try:
            async with watch(asgi_server, campaign["id"], **kwargs) as ws:
                message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert message["type"] == "error" and message["detail"]
                await asyncio.wait_for(ws.recv(), 20)
        except ConnectionClosed as exc:
            return exc.rcvd.code
        except InvalidStatus as exc:
            return exc.response.status_code
        raise AssertionError("the socket stayed open")

    async def checks():
        assert await refused(token="not-a-token") == 4401
        # Someone who neither runs nor joined the campaign.
        assert await refused(token=stranger) == 4404
        # Another site's page, even with a valid token.
        assert await refused(token=token, origin="http://evil.test") == 403
        # The token as a first message works as on the record socket.
        async with watch(asgi_server, campaign["id"]) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            assert (await next_progress(ws, timeout=20))["campaign"] == campaign["id"]
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "pong"

    asyncio.run(checks())


def test_a_burst_of_changes_is_coalesced(
    asgi_server, organiser, make_campaign, make_user, settings
):
    from campaigns.services import event_record

    campaign = make_campaign(organiser)
    token = access_token(organiser)
    quiet = 2 * settings.CAMPAIGN_PUSH_SECONDS + 1

    async def burst():
        async with watch(asgi_server, campaign["id"], token=token) as ws:
            await next_progress(ws)
            for _ in range(50):
                await asyncio.to_thread(event_record, campaign_id=campaign["id"], kind="joined")
            last = await next_progress(ws, lambda p: len(p["events"]) == 10, timeout=30)
            # 50 events, then quiet: far fewer messages than events, the last one whole.
            received = 1
            try:
                while True:
                    json.loads(await asyncio.wait_for(ws.recv(), quiet))
                    received += 1
            except TimeoutError:
                pass
            return last, received

    last, received = asyncio.run(burst())
    assert last["version"] > 0
    assert received < 10
