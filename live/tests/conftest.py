"""A live ASGI server (uvicorn in a thread) and a WebSocket client for the live tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from shrutik.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]
# The shared read-speech data sits next to the repository; the recordings test
# fixtures hold a copy of the fluent reading for checkouts without it.
READING_CANDIDATES = [
    ROOT.parent / "shared" / "data" / "speech" / "bn_read_fluent.webm",
    ROOT / "recordings" / "tests" / "fixtures" / "bn_read_fluent.webm",
]


def reading_source() -> Path:
    return next(path for path in READING_CANDIDATES if path.exists())


class AsgiServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"


@contextmanager
def run_asgi_server():
    """shrutik.asgi served by uvicorn on a free port, in a thread of the test process
    (so it shares the test database)."""
    import uvicorn
    from channels.layers import channel_layers
    from django.db import connections

    from shrutik.asgi import application

    # A channel layer belongs to the event loop that first used it: each server
    # (a new thread, a new loop) gets fresh ones.
    channel_layers.backends.clear()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            ws_ping_interval=None,
            # Sockets a test left open (a refused client, a status follower)
            # must not hold the shutdown for uvicorn's default wait.
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=20, what="uvicorn to start")
        yield AsgiServer(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        connections.close_all()


@pytest.fixture
def asgi_server(transactional_db):
    with run_asgi_server() as server:
        yield server


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


def frames_of(data: bytes, seconds: float, *, piece_seconds: float = 1.0) -> list[bytes]:
    """Byte slices of about ``piece_seconds`` each, as MediaRecorder time slices are."""
    size = max(1, round(len(data) * piece_seconds / seconds))
    return [data[i : i + size] for i in range(0, len(data), size)]


def frame(seq: int, payload: bytes) -> bytes:
    return seq.to_bytes(4, "big") + payload


class Client:
    """A thin JSON-aware wrapper over a websockets connection."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.feedback: list[dict] = []

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, kind: str | None = None, timeout: float = 30) -> dict:
        """The next message (of ``kind``), keeping feedback messages aside."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "feedback":
                self.feedback.append(message)
                if kind != "feedback":
                    continue
            if kind is None or message["type"] == kind:
                return message
            if message["type"] == "error":
                raise AssertionError(f"expected {kind}, got {message}")

    async def closed(self, timeout: float = 30):
        """Wait for the server to close; return (code, reason)."""
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                raw = await asyncio.wait_for(self.ws.recv(), timeout)
                message = json.loads(raw)
                if message["type"] == "feedback":
                    self.feedback.append(message)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else ""


def connect(
    server: AsgiServer,
    script_id,
    *,
    token: str | None = None,
    origin: bool | str = True,
    language: str | None = None,
    cookie: str | None = None,
):
    """A socket to the record endpoint; ``origin`` True sends the server's own."""
    from websockets.asyncio.client import connect as ws_connect

    query = f"script={script_id}" + (f"&token={token}" if token else "")
    headers = {"Accept-Language": language} if language else {}
    if cookie:
        headers["Cookie"] = cookie
    return ws_connect(
        f"{server.ws_url}/ws/record/?{query}",
        origin=server.url if origin is True else origin or None,
        additional_headers=headers or None,
        open_timeout=20,
        max_size=2**24,
    )


def session_cookie(user) -> str:
    """A Cookie header signing ``user`` in, as a browser holding a session sends it."""
    from django.conf import settings
    from django.test import Client as DjangoClient

    client = DjangoClient()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
