"""The live recording socket: ``/ws/record/?script=<id>`` (protocol in docs/live-recording.md).

Thin: every decision about sessions and frames is in ``live.services``; this
class moves bytes and messages, runs the feedback decoder and follows the
recording's processing once the reading ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from live import services
from live.auth import user_from_scope, user_from_token
from live.decoder import StreamDecoder
from live.feedback import FeedbackAnalyser
from live.models import LiveStatus
from live.services import LiveRefused

logger = logging.getLogger(__name__)

TERMINAL = {"chunked", "rejected", "failed"}
TEXT_MAX_BYTES = 4096
# RFC 6455's "unexpected condition": not the client's fault, so it reconnects and resumes.
INTERNAL_ERROR = 1011
FEEDBACK_MIN_INTERVAL = 0.2  # seconds between feedback messages for the same frame
# At the end of a reading, how long the decoder may take to decode what it was
# fed: libav decodes a second of audio in about 3 ms.
DECODER_FINISH_SECONDS = 2.0
# Frames received but not yet staged, per socket (seconds of audio): receiving
# waits beyond that, so a slow storage slows the client instead of filling memory.
STAGE_AHEAD = 16


def language_from_scope(scope) -> str:
    """The language the pages speak to this reader, chosen as ``LocaleMiddleware``
    chooses it for a request: the language cookie, else ``Accept-Language`` (in
    the order the browser lists it), else the default."""
    cookie = (scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME)
    candidates = [cookie] if cookie else []
    accept = dict(scope.get("headers") or ()).get(b"accept-language", b"").decode("latin-1")
    candidates += [part.split(";")[0].strip() for part in accept.split(",")]
    for code in candidates:
        if code and code != "*":
            with contextlib.suppress(LookupError):
                return translation.get_supported_language_variant(code)
    return settings.LANGUAGE_CODE


def close_reason(text: str) -> str:
    """A close frame carries at most 123 bytes of reason (RFC 6455, 5.5), and a
    Bangla letter takes three: cut by bytes, never inside a character. The
    whole text went out in the error message just before."""
    return text.encode()[:123].decode(errors="ignore")


def db(func):
    # Not thread-sensitive: the default would run every socket's database and
    # storage calls on one shared thread, so one slow end would stall all streams.
    return database_sync_to_async(func, thread_sensitive=False)


class RecordConsumer(AsyncWebsocketConsumer):
    user = None
    script = None
    session = None
    decoder: StreamDecoder | None = None
    analyser: FeedbackAnalyser | None = None
    follow_task: asyncio.Task | None = None
    stager: asyncio.Task | None = None
    decoded_next = 0  # the frame the decoder takes next

    async def dispatch(self, message):
        # Channels closes stale database connections before every message, on
        # the one thread a process runs thread-sensitive code on (Django's sync
        # views and Channels' session and user lookups share it): every frame of
        # every stream queued there, behind sockets connecting and pages being
        # rendered, before its handler ran. This consumer uses the database
        # only through ``db``, whose calls close their connections before and
        # after (DatabaseSyncToAsync), so the hop protected nothing here.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection -------------------------------------------------------------

    async def connect(self):
        # Refusals, upload checks and rejection reasons speak the reader's
        # language. The activation lives in this consumer's context, which its
        # later messages, its tasks and its database calls all share.
        translation.activate(language_from_scope(self.scope))
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        self.script_id = (query.get("script") or [None])[0]
        self.fed_seq = -1
        self.sent_seq = -1
        self.sent_at = 0.0
        self.closing = False
        token = (query.get("token") or [None])[0]
        user = user_from_scope(self.scope)
        if user is None and token:
            user = await db(user_from_token)(token)
            if user is None:
                return await self.refuse(
                    LiveRefused(services.UNAUTHENTICATED, "The access token is not valid.")
                )
        if user is not None:
            await self.authenticated(user)
        # Otherwise the first message must be {"type": "auth", "token": ...}.

    async def authenticated(self, user):
        self.user = user
        try:
            self.script = await db(services.script_for_live)(self.script_id)
        except LiveRefused as exc:
            await self.refuse(exc)
            return
        await self.send_json({"type": "ready", "user": user.get_username()})

    async def disconnect(self, code):
        self.closing = True
        for task in (self.follow_task, self.stager):
            if task is not None:
                task.cancel()
        await self.stop_decoder()
        if self.session is not None:
            if self.channel_layer is not None:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            await db(services.session_disconnected)(
                session_id=self.session.pk, connection=self.channel_name
            )

    async def refuse(self, exc: LiveRefused):
        """Say why, then close with the code; the session itself is untouched."""
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "code": exc.code, "detail": exc.reason})
        await self.close(code=exc.code, reason=close_reason(exc.reason))

    async def send_json(self, message: dict):
        await self.send(text_data=json.dumps(message, ensure_ascii=False))

    # --- messages --------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        try:
            if self.user is None:
                await self.receive_auth(text_data)
            elif bytes_data is not None:
                await self.receive_frame(bytes_data)
            else:
                await self.receive_control(text_data or "")
        except LiveRefused as exc:
            await self.refuse(exc)
        except Exception:
            # A bug or an outage still ends in a close frame the client can act
            # on, never a socket left open with nobody reading it.
            logger.exception("Live socket message failed")
            await self.refuse(
                LiveRefused(INTERNAL_ERROR, "The server failed; reconnect and resume.")
            )

    async def receive_auth(self, text_data):
        message = self.parse(text_data) if text_data is not None else {}
        if message.get("type") != "auth" or not isinstance(message.get("token"), str):
            raise LiveRefused(
                services.UNAUTHENTICATED,
                'Sign in: send {"type": "auth", "token": <access token>} first.',
            )
        user = await db(user_from_token)(message["token"])
        if user is None:
            raise LiveRefused(services.UNAUTHENTICATED, "The access token is not valid.")
        await self.authenticated(user)

    def parse(self, text: str) -> dict:
        # surrogatepass: a lone surrogate (which no UTF-8 text frame can carry,
        # but an ASGI server might hand over) is counted, not a crash.
        if len(text.encode(errors="surrogatepass")) > TEXT_MAX_BYTES:
            raise LiveRefused(services.TOO_LARGE, "Control messages are at most 4 KiB.")
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            # Arrays or objects nested deeper than the interpreter's recursion
            # limit ("[[[[…", a few KiB) raise RecursionError, not ValueError.
            raise LiveRefused(services.BAD_REQUEST, "Control messages are JSON objects.") from None
        if not isinstance(message, dict):
            raise LiveRefused(services.BAD_REQUEST, "Control messages are JSON objects.")
        return message

    async def receive_control(self, text: str):
        message = self.parse(text)
        kind = message.get("type")
        if kind == "start":
            await self.start_session()
        elif kind == "resume":
            await self.resume_session(message.get("session"))
        elif kind == "end":
            await self.end_session()
        elif kind == "cancel":
            session = self.require_session()
            await self.staged()
            await db(services.session_cancel)(session=session)
            await self.send_json({"type": "cancelled", "session": str(session.pk)})
            await self.close(code=1000)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            raise LiveRefused(
                services.BAD_REQUEST,
                f"Unknown message type {kind!r}; use start, resume, end, cancel or ping.",
            )

    def require_session(self):
        if self.session is None:
            raise LiveRefused(services.BAD_REQUEST, "Send start or resume before audio.")
        return self.session

    async def start_session(self):
        if self.session is not None:
            raise LiveRefused(services.BAD_REQUEST, "This connection already has a session.")
        self.session = await db(services.session_start)(
            user=self.user, script=self.script, connection=self.channel_name
        )
        await self.attach()
        await self.send_json(
            {
                "type": "started",
                "session": str(self.session.pk),
                "next_seq": 0,
                "expires_at": self.session.expires_at.isoformat(),
            }
        )

    async def resume_session(self, session_id):
        if self.session is not None:
            raise LiveRefused(services.BAD_REQUEST, "This connection already has a session.")
        session = await db(services.session_resume)(
            user=self.user, session_id=session_id, connection=self.channel_name
        )
        if session.script_id != self.script.pk:
            raise LiveRefused(services.BAD_REQUEST, "That session reads another script.")
        self.session = session
        self.decoded_next = session.next_seq
        await self.attach()
        await self.send_json(
            {
                "type": "resumed",
                "session": str(session.pk),
                "status": session.status,
                "next_seq": session.next_seq,
                "last_ack": session.last_acked,
            }
        )
        if session.status == LiveStatus.ENDED and session.recording_id:
            # The answer to "end" may be what the dropped connection lost.
            await self.send_json(
                {
                    "type": "ended",
                    "session": str(session.pk),
                    "recording": str(session.recording_id),
                    "duplicate": False,
                }
            )
            self.follow(session.recording_id)
        elif session.status == LiveStatus.REJECTED:
            raise LiveRefused(services.UNPROCESSABLE, session.detail or "The reading was refused.")
        elif session.status == LiveStatus.CANCELLED:
            raise LiveRefused(services.GONE, "The reading was cancelled.")
        elif session.status == LiveStatus.ACTIVE and session.next_seq:
            # Feedback continues where it was: the new decoder catches up on
            # what is staged (seconds of CPU for a long reading, once per resume).
            staged = await db(services.staged_bytes)(session=session)
            await self.feed_decoder(staged, session.next_seq - 1)

    @property
    def group(self) -> str:
        return f"live-{self.session.pk}"

    async def attach(self):
        """Take the session over: an older socket still open for it is closed."""
        if self.channel_layer is None:
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_send(
            self.group, {"type": "live.takeover", "channel": self.channel_name}
        )

    async def live_takeover(self, event):
        if event["channel"] != self.channel_name and not self.closing:
            await self.refuse(
                LiveRefused(services.OUT_OF_ORDER, "The reading continues on another connection.")
            )

    async def receive_frame(self, data: bytes):
        session = self.require_session()
        if len(data) <= services.SEQ_BYTES:
            raise LiveRefused(
                services.BAD_REQUEST, "A frame is a 4-byte sequence number, then audio."
            )
        seq = int.from_bytes(data[: services.SEQ_BYTES], "big")
        payload = data[services.SEQ_BYTES :]
        # The frame the stream continues with is decoded at once, while it
        # waits to be staged: feedback needs no durability, and the storage and
        # database round trips are most of a frame's time under load. The first
        # frame too, once it opens a container a stream may use (the staging
        # checks it again); anything else waits for the staging's answer.
        early = seq == self.decoded_next and (
            self.decoder is not None or (seq == 0 and services.starts_a_stream(payload))
        )
        if self.stager is None:
            self.staging = asyncio.Queue(STAGE_AHEAD)
            self.stager = asyncio.create_task(self.stage_frames(session))
        await self.staging.put((seq, payload, early))
        if early:
            self.decoded_next = seq + 1
            await self.feed_decoder(payload, seq)

    async def stage_frames(self, session):
        """Stage the received frames in order, acknowledging each once it is durable.

        A task of its own, so that receiving and decoding never wait on
        storage; a refusal closes the socket as one from ``receive`` would.
        """
        tolerance = settings.LIVE_UNDECODED_MAX_BYTES
        try:
            while True:
                seq, payload, early = await self.staging.get()
                # Every frame before this one has been fed by now; one fed
                # early is already counted in the decoder's bytes.
                allowance = tolerance
                if self.decoder is not None:
                    allowance = self.decoder.undecoded_allowance(tolerance)
                    allowance += len(payload) if early else 0
                next_seq, appended = await db(services.session_append)(
                    session=session, seq=seq, payload=payload, undecoded_allowance=allowance
                )
                await self.send_json({"type": "ack", "seq": next_seq - 1})
                if appended and not early:
                    self.decoded_next = seq + 1
                    await self.feed_decoder(payload, seq)
                self.staging.task_done()
        except LiveRefused as exc:
            await self.refuse(exc)
        except Exception:
            logger.exception("Live frame staging failed")
            await self.refuse(
                LiveRefused(INTERNAL_ERROR, "The server failed; reconnect and resume.")
            )
        finally:
            # Nothing more is staged on this socket: release whoever waits for it.
            while not self.staging.empty():
                self.staging.get_nowait()
                self.staging.task_done()

    async def staged(self):
        """Wait until every frame received so far is staged (or staging stopped)."""
        if self.stager is not None:
            await self.staging.join()

    # --- feedback ---------------------------------------------------------------

    async def feed_decoder(self, data: bytes, seq: int):
        if self.decoder is None:
            container = "ogg" if data[:4] == b"OggS" else "webm"
            self.analyser = FeedbackAnalyser(services.expected_sentence_seconds(self.script))
            self.max_seconds = services.max_seconds(self.script)
            self.decoder = StreamDecoder(self.on_pcm, container=container)
            await self.decoder.start()
        self.fed_seq = seq
        await self.decoder.feed(data)

    async def on_pcm(self, block):
        feedback = self.analyser.feed(block)
        if feedback is None or self.closing:
            return
        if feedback.position > self.max_seconds:
            await self.refuse(
                LiveRefused(
                    services.TOO_LARGE,
                    f"The reading is longer than {self.max_seconds:.0f} s, the most this "
                    "script allows; end it now.",
                )
            )
            return
        now = time.monotonic()
        if self.fed_seq == self.sent_seq and now - self.sent_at < FEEDBACK_MIN_INTERVAL:
            return
        self.sent_seq, self.sent_at = self.fed_seq, now
        await self.send_json({"type": "feedback", "seq": self.fed_seq, **feedback.as_dict()})

    async def stop_decoder(self, *, finish: bool = False):
        decoder, self.decoder = self.decoder, None
        if decoder is None:
            return
        if finish:
            await decoder.finish(DECODER_FINISH_SECONDS)
        else:
            await decoder.close()

    # --- end and processing status -------------------------------------------------

    async def end_session(self):
        session = self.require_session()
        await self.staged()
        if self.closing:
            return  # staging refused a frame: the socket is closing with the reason
        # The feedback on the last frames goes out before "ended".
        await self.stop_decoder(finish=True)
        recording = await db(services.session_end)(session=session)
        await self.send_json(
            {
                "type": "ended",
                "session": str(session.pk),
                "recording": str(recording.pk),
                "duplicate": bool(getattr(recording, "duplicate", False)),
            }
        )
        self.follow(recording.pk)

    def follow(self, recording_id):
        self.follow_task = asyncio.create_task(self.follow_processing(recording_id))

    async def follow_processing(self, recording_id):
        """Push uploaded → processing → chunked (with the chunk count), then close."""
        last = None
        deadline = time.monotonic() + settings.LIVE_STATUS_FOLLOW_SECONDS
        while time.monotonic() < deadline and not self.closing:
            progress = await db(services.recording_progress)(recording_id=recording_id)
            if progress is None:
                break
            if progress != last:
                await self.send_json(progress)
                last = progress
            if progress["status"] in TERMINAL:
                break
            await asyncio.sleep(settings.LIVE_STATUS_POLL_SECONDS)
        if not self.closing:
            self.closing = True
            await self.close(code=1000)
