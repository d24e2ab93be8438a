"""The live recording socket against a real uvicorn server, real storage and a real worker."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import override_settings

from live.decoder import MAX_BYTES_PER_SECOND
from live.models import LiveSession, LiveStatus
from live.tests.conftest import (
    Client,
    access_token,
    connect,
    frame,
    frames_of,
    reading_source,
    session_cookie,
)
from recordings.audio import decode
from recordings.models import Recording
from recordings.tests.factories import LanguageFactory, make_script
from shrutik.storage import sha256_file, storage_copy_to_temp
from shrutik.testing import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = reading_source()
META = json.loads(SOURCE.with_suffix(".json").read_text())


@pytest.fixture
def script():
    return make_script(LanguageFactory(), META["script"])


@pytest.fixture
def pieces():
    return frames_of(SOURCE.read_bytes(), META["duration"])


def staged_keys(session_id) -> list[str]:
    try:
        return default_storage.listdir(f"live/{session_id}")[1]
    except FileNotFoundError:
        return []


def decoded_seconds(key: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = storage_copy_to_temp(key, directory=tmp)
        return decode.measure_duration(path, max_seconds=600)


@pytest.mark.e2e
def test_stream_drop_resume_and_end_chunks_like_an_upload(
    asgi_server, worker, script, pieces, make_user, api_client
):
    reader = make_user()
    token = access_token(reader)
    half = len(pieces) // 2

    async def stream():
        async with connect(asgi_server, script.pk, token=token) as ws:
            first = Client(ws)
            assert (await first.recv("ready"))["user"] == reader.username
            await first.send({"type": "start"})
            session_id = (await first.recv("started"))["session"]
            for seq in range(half):
                await ws.send(frame(seq, pieces[seq]))
                assert (await first.recv("ack"))["seq"] == seq
                await asyncio.sleep(0.05)
            # The next frame leaves, then the network drops: no close handshake.
            await ws.send(frame(half, pieces[half]))
            ws.transport.abort()
        async with connect(asgi_server, script.pk, token=token) as ws:
            second = Client(ws)
            await second.recv("ready")
            await second.send({"type": "resume", "session": session_id, "last_ack": half - 1})
            resumed = await second.recv("resumed")
            # Whether the frame in flight landed or not, resending from next_seq
            # (and one frame before it) neither loses nor duplicates audio.
            start = resumed["next_seq"] - 1
            assert start in (half - 1, half)
            for seq in range(start, len(pieces)):
                await ws.send(frame(seq, pieces[seq]))
                # A resent frame is acknowledged with the position, not stored
                # again (the old socket's last frame may still land meanwhile).
                assert (await second.recv("ack"))["seq"] >= seq
                await asyncio.sleep(0.05)
            await second.send({"type": "end"})
            ended = await second.recv("ended")
            statuses = []
            while not statuses or statuses[-1]["status"] not in {"chunked", "rejected", "failed"}:
                statuses.append(await second.recv("status", timeout=120))
            code, _ = await second.closed()
        return session_id, ended, statuses, first.feedback + second.feedback, code

    session_id, ended, statuses, feedback, code = asyncio.run(stream())

    assert statuses[-1]["status"] == "chunked", statuses
    assert statuses[-1]["chunk_count"] == len(META["sentences"])
    assert code == 1000
    recording = Recording.objects.get(pk=ended["recording"])
    assert recording.contributor == reader
    assert recording.size_bytes == len(SOURCE.read_bytes())
    assert (
        abs(
            decoded_seconds(recording.audio.name) - decode.measure_duration(SOURCE, max_seconds=600)
        )
        <= 0.05
    )
    session = LiveSession.objects.get(pk=session_id)
    assert session.status == LiveStatus.ENDED and session.recording_id == recording.pk
    assert staged_keys(session_id) == []

    # Feedback arrived while streaming, and followed the reader through the script.
    assert len({f["seq"] for f in feedback}) >= len(pieces) // 2
    assert {"level_dbfs", "clipping", "speech", "sentence", "warnings"} <= feedback[-1].keys()
    # (How exactly it follows is tested on PCM in test_feedback.py; frames here
    # come 20 times faster than real time, so the last ones may end unanalysed.)
    assert max(f["sentence"] for f in feedback) >= 2
    assert any(f["speech"] for f in feedback)

    # The same file uploaded over HTTP is cut into the same chunks.
    uploader = make_user()
    api_client.force_authenticate(uploader)
    with open(SOURCE, "rb") as audio:
        created = api_client.post(
            "/api/recordings/", {"script": script.pk, "audio": audio}, format="multipart"
        )
    assert created.status_code == 201, created.content
    uploaded = wait_until(
        lambda: Recording.objects.filter(pk=created.json()["id"], status="chunked").first(),
        timeout=120,
        what="the upload to be chunked",
    )
    assert uploaded.sha256 == recording.sha256
    spans = lambda rec: [(c.start, c.end) for c in rec.chunks.order_by("index")]  # noqa: E731
    assert spans(recording) == spans(uploaded)


def test_bad_frames_tokens_and_sessions_are_refused_without_harm(
    asgi_server, script, pieces, make_user
):
    reader, other = make_user(), make_user()
    token, other_token = access_token(reader), access_token(other)

    async def scenario():
        results = {}
        async with connect(asgi_server, script.pk, token=token) as ws:
            c = Client(ws)
            await c.recv("ready")
            await c.send({"type": "start"})
            session_id = (await c.recv("started"))["session"]
            for seq in range(3):
                await ws.send(frame(seq, pieces[seq]))
                await c.recv("ack")
            await ws.send(frame(5, pieces[5]))  # a gap
            results["gap"] = await c.closed()

        async def resume(tok, *, then=None):
            async with connect(asgi_server, script.pk, token=tok) as ws:
                c = Client(ws)
                await c.recv("ready")
                await c.send({"type": "resume", "session": session_id})
                if then is None:
                    return await c.closed()
                await c.recv("resumed")
                return await then(ws, c)

        async def duplicate(ws, c):
            await ws.send(frame(1, b"not the same audio at all"))
            ack = await c.recv("ack")
            await ws.send(frame(3, b"\0" * (settings.LIVE_FRAME_MAX_BYTES + 1)))
            return ack, await c.closed()

        results["duplicate"], results["oversized"] = await resume(token, then=duplicate)
        results["other_user"] = await resume(other_token)
        async with connect(asgi_server, script.pk, token="not-a-token") as ws:
            results["bad_token"] = await Client(ws).closed()
        async with connect(asgi_server, script.pk) as ws:
            await ws.send(json.dumps({"type": "resume", "session": session_id}))
            results["anonymous"] = await Client(ws).closed()

        async def finish(ws, c):
            for seq in range(3, len(pieces)):
                await ws.send(frame(seq, pieces[seq]))
                assert (await c.recv("ack"))["seq"] == seq
            await c.send({"type": "end"})
            return await c.recv("ended")

        results["ended"] = await resume(token, then=finish)
        return session_id, results

    session_id, results = asyncio.run(scenario())

    assert results["gap"][0] == 4409 and "resume from 3" in results["gap"][1]
    assert results["duplicate"]["seq"] == 2
    assert results["oversized"][0] == 4413
    assert results["other_user"][0] == 4403
    assert results["bad_token"][0] == 4401
    assert results["anonymous"][0] == 4401
    # None of that touched the reading: it ends as exactly the source file.
    recording = Recording.objects.get(pk=results["ended"]["recording"])
    assert recording.sha256 == sha256_file(SOURCE)
    assert LiveSession.objects.get(pk=session_id).staged_bytes == SOURCE.stat().st_size


def test_a_reading_refused_at_the_end_is_explained_in_the_readers_language(
    asgi_server, script, pieces, make_user
):
    token = access_token(make_user())

    async def scenario():
        async with connect(asgi_server, script.pk, token=token, language="bn") as ws:
            c = Client(ws)
            await c.recv("ready")
            await c.send({"type": "start"})
            await c.recv("started")
            await ws.send(frame(0, pieces[0]))  # about a second of a longer script
            await c.recv("ack")
            await c.send({"type": "end"})
            return await c.recv("error"), await c.closed()

    error, (code, _) = asyncio.run(scenario())
    assert code == 4422 and error["code"] == 4422
    # Too short for the script (or, cut this early, not decodable): said in Bangla.
    assert error["detail"].startswith(("রেকর্ডিংটি", "অডিওটি")), error


def test_only_the_sites_own_origin_opens_a_socket_with_the_session_cookie(
    asgi_server, script, make_user
):
    from websockets.exceptions import InvalidStatus

    reader = make_user()
    cookie = session_cookie(reader)
    port = asgi_server.port
    foreign = [
        "http://127.0.0.1:9999",
        "http://localhost:1234",
        "https://127.0.0.1",
        f"https://127.0.0.1:{port}",  # the same host and port, another scheme
        f"http://localhost:{port}",  # the same machine, another origin
        "https://evil.example",
    ]

    async def attempt(origin):
        try:
            async with connect(asgi_server, script.pk, origin=origin, cookie=cookie) as ws:
                return (await Client(ws).recv("ready"))["user"]
        except InvalidStatus as refused:
            return refused.response.status_code

    async def scenario():
        return [await attempt(origin) for origin in foreign], await attempt(asgi_server.url)

    refused, own = asyncio.run(scenario())
    assert refused == [403] * len(foreign)
    assert own == reader.username


def test_any_text_message_is_answered_with_a_close_code(asgi_server, script, make_user):
    token = access_token(make_user())
    deep = '{"type": ' + "[" * 2000 + "]" * 2000 + "}"  # under 4 KiB, too deep to parse
    assert len(deep) < 4096
    messages = {
        "unterminated nesting": ("[" * 2000, 4400, 4400),
        "closed nesting": (deep, 4400, 4400),
        "huge": ('{"type": "ping", "pad": "' + "x" * 2_000_000 + '"}', 4413, 4413),
        "array": ('["start"]', 4400, 4400),
        "string": ('"ping"', 4400, 4400),
        "number": ("1e999", 4400, 4400),
        "null": ("null", 4400, 4400),
        "not JSON": ("start", 4400, 4400),
        # Before signing in it is an auth message with an impossible token;
        # after, an auth message is not a control message.
        "lone surrogate": ('{"type": "auth", "token": "\\ud800"}', 4401, 4400),
    }

    async def answer(text, *, signed_in):
        async with connect(asgi_server, script.pk, token=token if signed_in else None) as ws:
            c = Client(ws)
            if signed_in:
                await c.recv("ready")
            await ws.send(text)
            error = await c.recv("error")
            return error["code"], await c.closed()

    async def invalid_utf8():
        async with connect(asgi_server, script.pk, token=token) as ws:
            c = Client(ws)
            await c.recv("ready")
            await ws.send(b'{"type": "\xff"}', text=True)
            return await c.closed()

    async def scenario():
        results = {}
        for name, (text, *_) in messages.items():
            results[name] = (
                await answer(text, signed_in=False),
                await answer(text, signed_in=True),
            )
        return results, await invalid_utf8()

    results, (utf8_code, _) = asyncio.run(scenario())

    for name, (_, before, after) in messages.items():
        (error_before, (code_before, reason_before)), (error_after, (code_after, _)) = results[name]
        assert (error_before, code_before) == (before, before), name
        assert (error_after, code_after) == (after, after), name
        assert reason_before, name
    # A text frame that is not UTF-8 never reaches the consumer: the server
    # closes with 1007 (RFC 6455, invalid payload data).
    assert utf8_code == 1007


@pytest.mark.parametrize("valid_frames", [1, 5])
def test_a_stream_that_stops_decoding_is_refused_before_it_fills_the_staging(
    asgi_server, script, pieces, make_user, valid_frames
):
    """A valid WebM start (the header alone, or a few seconds), then random
    bytes: refused early, in the reader's language, and nothing stays staged."""
    token = access_token(make_user())
    rng = random.Random(valid_frames)
    junk_size = 32 * 1024

    async def scenario():
        async with connect(asgi_server, script.pk, token=token, language="bn") as ws:
            c = Client(ws)
            await c.recv("ready")
            await c.send({"type": "start"})
            session_id = (await c.recv("started"))["session"]
            acked = 0
            for seq in range(valid_frames):
                await ws.send(frame(seq, pieces[seq]))
                await c.recv("ack")
                acked += len(pieces[seq])
            # 8 MiB of junk at most: far more than the stream may bring undecoded.
            for seq in range(valid_frames, valid_frames + 256):
                await ws.send(frame(seq, rng.randbytes(junk_size)))
                reply = await c.recv()
                if reply["type"] != "ack":
                    return session_id, acked, reply, await c.closed()
                acked += junk_size
            return session_id, acked, None, None

    session_id, acked, error, closed = asyncio.run(scenario())

    assert error is not None, f"{acked} bytes acknowledged without a refusal"
    assert error["code"] == 4415 and closed[0] == 4415
    assert error["detail"].startswith("পাঠানো অডিওটি"), error
    # Acknowledged: at most the tolerance plus what the valid seconds earn.
    with tempfile.TemporaryDirectory() as tmp:
        start = Path(tmp) / "start.webm"
        start.write_bytes(b"".join(pieces[:valid_frames]))
        valid_seconds = decode.measure_duration(start, max_seconds=600, strict=False)
    assert acked <= settings.LIVE_UNDECODED_MAX_BYTES + MAX_BYTES_PER_SECOND * valid_seconds
    session = LiveSession.objects.get(pk=session_id)
    assert session.status == LiveStatus.REJECTED
    assert staged_keys(session_id) == []


@override_settings(LIVE_MAX_SESSIONS_PER_USER=1)
def test_limits_on_sessions_per_reader(asgi_server, script, make_user):
    token = access_token(make_user())

    async def scenario():
        async with connect(asgi_server, script.pk, token=token) as ws:
            c = Client(ws)
            await c.recv("ready")
            await c.send({"type": "start"})
            await c.recv("started")
        async with connect(asgi_server, script.pk, token=token) as ws:
            c = Client(ws)
            await c.recv("ready")
            await c.send({"type": "start"})
            return await c.closed()

    code, reason = asyncio.run(scenario())
    assert code == 4429 and "in progress" in reason
    assert Path(SOURCE).exists()
