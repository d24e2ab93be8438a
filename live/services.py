"""Live sessions: start, resume, append frames, end into a Recording, expire.

Every refusal is a ``LiveRefused`` carrying the WebSocket close code (4000-4999)
and a reason that says what to do. Apart from a stream that does not decode and
a reading refused at its end, none of them changes the session, so a client that
sent one bad frame resumes and carries on.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from live import staging
from live.models import LiveSession, LiveStatus
from live.signals import reading_started
from recordings import services as recording_services
from recordings.audio import decode
from recordings.audio import text as script_text
from recordings.models import Recording, Script
from shrutik.exceptions import ApplicationError
from shrutik.signals import send_on_commit

logger = logging.getLogger(__name__)

# Close codes: 4000 + the HTTP status they resemble.
BAD_REQUEST = 4400
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
EXPIRED = 4408
OUT_OF_ORDER = 4409
GONE = 4410
TOO_LARGE = 4413
UNSUPPORTED = 4415
UNPROCESSABLE = 4422
TOO_MANY = 4429
STAGING_FULL = 4507
SEQ_BYTES = 4  # binary frames: big-endian sequence number, then the audio bytes


@dataclass
class LiveRefused(Exception):
    code: int
    reason: str

    def __str__(self) -> str:
        return self.reason


def starts_a_stream(payload: bytes) -> bool:
    """Whether a first frame opens a container a live stream may use."""
    return decode.sniff_container(payload[:64]) in ("webm", "ogg")


def _expiry(now=None):
    return (now or timezone.now()) + timedelta(seconds=settings.LIVE_IDLE_SECONDS)


def script_for_live(script_id) -> Script:
    try:
        pk = int(script_id)
    except (TypeError, ValueError):
        raise LiveRefused(BAD_REQUEST, "Add ?script=<id> of the script you are reading.") from None
    script = (
        Script.objects.filter(pk=pk, active=True, language__active=True)
        .select_related("language")
        .first()
    )
    if script is None:
        raise LiveRefused(NOT_FOUND, f"There is no open script {pk}.")
    return script


def expected_sentence_seconds(script: Script) -> list[float]:
    """Each sentence's expected reading time, scaled to the script's estimate."""
    code = script.language.code
    raw = [
        script_text.estimate_seconds(s, code) + script_text.PAUSE_BETWEEN_SENTENCES
        for s in script.sentences
    ] or [script.estimated_seconds or 1.0]
    scale = (script.estimated_seconds or sum(raw)) / sum(raw)
    return [s * scale for s in raw]


def max_seconds(script: Script) -> float:
    return recording_services.duration_limits(script)[1]


def session_start(*, user, script: Script, connection: str = "") -> LiveSession:
    if not user.has_consented:
        raise LiveRefused(
            FORBIDDEN,
            "Accept the current contributor agreement (PATCH /api/me/ with consent=true) "
            "before contributing.",
        )
    now = timezone.now()
    with transaction.atomic():
        # One user's starts are serialised, so two at once cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        open_sessions = LiveSession.objects.filter(
            user=user, status=LiveStatus.ACTIVE, expires_at__gt=now
        ).count()
        if open_sessions >= settings.LIVE_MAX_SESSIONS_PER_USER:
            raise LiveRefused(
                TOO_MANY,
                f"You already have {open_sessions} readings in progress; finish or cancel "
                "one first.",
            )
        session = LiveSession.objects.create(
            user=user, script=script, connection=connection, expires_at=_expiry(now)
        )
        send_on_commit(reading_started, user_id=user.pk, script_id=script.pk)
        return session


def session_get(*, user, session_id) -> LiveSession:
    """The caller's session, or a refusal that leaves everyone's sessions alone."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise LiveRefused(NOT_FOUND, "That is not a session id.") from None
    session = LiveSession.objects.select_related("script__language").filter(pk=pk).first()
    if session is None:
        raise LiveRefused(NOT_FOUND, "There is no such session; start a new one.")
    if session.user_id != user.pk:
        raise LiveRefused(FORBIDDEN, "That session belongs to someone else.")
    return session


def session_resume(*, user, session_id, connection: str = "") -> LiveSession:
    session = session_get(user=user, session_id=session_id)
    if session.status == LiveStatus.ACTIVE and session.expires_at <= timezone.now():
        session_expire(session=session)
        session.status = LiveStatus.EXPIRED
    if session.status == LiveStatus.EXPIRED:
        raise LiveRefused(EXPIRED, "The session expired after being idle; record again.")
    if session.status in (LiveStatus.ACTIVE, LiveStatus.ENDING):
        now = timezone.now()
        LiveSession.objects.filter(pk=session.pk).update(
            connection=connection, updated_at=now, expires_at=_expiry(now)
        )
        session.connection = connection
    # Ended sessions resume too: the reader may have lost the answer to "end".
    return session


def session_append(
    *, session: LiveSession, seq: int, payload: bytes, undecoded_allowance: int | None = None
) -> tuple[int, bool]:
    """Stage frame ``seq``; returns (next_seq, appended).

    A frame already acknowledged is answered with the current position without
    being stored again (clients resend after a reconnect); a gap is refused.
    ``undecoded_allowance`` is how many bytes the connection's decoder still
    lets in (``StreamDecoder.undecoded_allowance``): a new frame larger than
    that means the stream is not decoding, and the session is discarded.
    """
    if len(payload) > settings.LIVE_FRAME_MAX_BYTES:
        raise LiveRefused(
            TOO_LARGE,
            f"Frame {seq} is {len(payload)} bytes; send at most "
            f"{settings.LIVE_FRAME_MAX_BYTES} bytes per frame (about one second).",
        )
    # The session and the staging totals in one round trip: this runs once a
    # second for every reader streaming.
    active = LiveSession.objects.filter(status=LiveStatus.ACTIVE).order_by().values("status")
    current = (
        LiveSession.objects.filter(pk=session.pk)
        .values("status", "next_seq", "staged_bytes", "expires_at")
        .annotate(
            staged_total=Subquery(active.annotate(s=Sum("staged_bytes")).values("s")),
            staged_mine=Subquery(
                active.filter(user_id=session.user_id).annotate(s=Sum("staged_bytes")).values("s")
            ),
        )[0]
    )
    if current["status"] != LiveStatus.ACTIVE:
        raise LiveRefused(GONE, f"The session is {current['status']}; it takes no more audio.")
    if current["expires_at"] <= timezone.now():
        session_expire(session=session)
        raise LiveRefused(EXPIRED, "The session expired after being idle; record again.")
    next_seq = current["next_seq"]
    if seq < next_seq:
        return next_seq, False
    if seq > next_seq:
        raise LiveRefused(
            OUT_OF_ORDER, f"Frame {seq} arrived before frame {next_seq}; resume from {next_seq}."
        )
    if not payload:
        raise LiveRefused(BAD_REQUEST, f"Frame {seq} has no audio.")
    if seq == 0 and not starts_a_stream(payload):
        raise LiveRefused(UNSUPPORTED, "Stream WebM/Opus or Ogg/Opus (MediaRecorder time slices).")
    if undecoded_allowance is not None and len(payload) > undecoded_allowance:
        raise session_reject_stream(session=session)
    if current["staged_bytes"] + len(payload) > settings.RECORDING_MAX_BYTES:
        raise LiveRefused(TOO_LARGE, recording_services.too_large_message())
    if (current["staged_mine"] or 0) + len(payload) > settings.LIVE_STAGING_MAX_BYTES_PER_USER:
        mb = settings.LIVE_STAGING_MAX_BYTES_PER_USER / 1024 / 1024
        raise LiveRefused(
            STAGING_FULL,
            f"This frame would take your readings in progress past {mb:.0f} MB, the most one "
            "reader may stream at once; end or cancel one, or stop and upload this recording "
            "instead.",
        )
    if (current["staged_total"] or 0) + len(payload) > settings.LIVE_STAGING_MAX_BYTES:
        raise LiveRefused(
            STAGING_FULL, "The server is busy; stop, then upload the recording instead."
        )
    staging.put(session.pk, seq, payload)
    now = timezone.now()
    moved = LiveSession.objects.filter(
        pk=session.pk, next_seq=seq, status=LiveStatus.ACTIVE
    ).update(
        next_seq=seq + 1,
        staged_bytes=F("staged_bytes") + len(payload),
        updated_at=now,
        expires_at=_expiry(now),
    )
    if not moved:
        # Another connection of the same reader stored this frame first.
        now_at = LiveSession.objects.filter(pk=session.pk).values_list("next_seq", flat=True)[0]
        return now_at, False
    session.next_seq = seq + 1
    return seq + 1, True


class StagedUpload(UploadedFile):
    """The assembled reading, handed to ``recording_create`` like an upload on disk."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(open(path, "rb"), name="live.webm", size=size)  # noqa: SIM115
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def session_end(*, session: LiveSession) -> Recording:
    """Turn the staged frames into a Recording, validated and processed like an upload."""
    claimed = LiveSession.objects.filter(pk=session.pk, status=LiveStatus.ACTIVE).update(
        status=LiveStatus.ENDING, updated_at=timezone.now()
    )
    if not claimed:
        session.refresh_from_db()
        if session.status == LiveStatus.ENDED and session.recording_id:
            return session.recording
        raise LiveRefused(GONE, f"The session is {session.status}.")
    session.refresh_from_db()
    if session.next_seq == 0:
        LiveSession.objects.filter(pk=session.pk).update(status=LiveStatus.ACTIVE)
        raise LiveRefused(BAD_REQUEST, "No audio was received; record before ending.")
    try:
        with tempfile.TemporaryDirectory(prefix="shrutik-live-") as tmp:
            path = Path(tmp) / "live.webm"
            size = staging.assemble(session.pk, session.next_seq, path)
            upload = StagedUpload(path, size)
            try:
                recording = recording_services.recording_create(
                    user=session.user, script=session.script, upload=upload
                )
            finally:
                upload.close()
    except ApplicationError as exc:
        LiveSession.objects.filter(pk=session.pk).update(
            status=LiveStatus.REJECTED, detail=exc.detail[:300], connection=""
        )
        transaction.on_commit(lambda: _staging_delete(session.pk))
        raise LiveRefused(UNPROCESSABLE, exc.detail) from exc
    except Exception:
        # Storage or database trouble: nothing is lost, the reader may end again.
        LiveSession.objects.filter(pk=session.pk).update(status=LiveStatus.ACTIVE)
        raise
    LiveSession.objects.filter(pk=session.pk).update(
        status=LiveStatus.ENDED, recording=recording, updated_at=timezone.now()
    )
    transaction.on_commit(lambda: _staging_delete(session.pk))
    return recording


def _staging_delete(session_id) -> None:
    """Delete staged frames after the end; a failure leaves them to the expiry sweep."""
    try:
        staging.delete(session_id)
    except Exception:
        logger.warning("Could not delete the staging of live session %s", session_id, exc_info=True)


def session_cancel(*, session: LiveSession) -> None:
    LiveSession.objects.filter(pk=session.pk, status=LiveStatus.ACTIVE).update(
        status=LiveStatus.CANCELLED, connection="", updated_at=timezone.now()
    )
    staging.delete(session.pk)


def session_reject_stream(*, session: LiveSession) -> LiveRefused:
    """Discard a session whose stream does not decode; returns the refusal to send.

    Its staging goes at once: junk must not hold room in the shared staging
    until the session expires. The reader loses nothing (the page keeps every
    slice and uploads the file instead, where the same audio is checked again).
    """
    detail = _(
        "The streamed audio could not be decoded, so live saving stopped. Stop, then "
        "upload the recording instead."
    )
    LiveSession.objects.filter(pk=session.pk, status=LiveStatus.ACTIVE).update(
        status=LiveStatus.REJECTED, detail=detail[:300], connection="", updated_at=timezone.now()
    )
    _staging_delete(session.pk)
    return LiveRefused(UNSUPPORTED, detail)


def session_disconnected(*, session_id, connection: str) -> None:
    """Forget the socket, unless a newer connection has taken the session over."""
    LiveSession.objects.filter(pk=session_id, connection=connection).update(connection="")


def session_expire(*, session: LiveSession) -> None:
    expired = LiveSession.objects.filter(pk=session.pk, status=LiveStatus.ACTIVE).update(
        status=LiveStatus.EXPIRED, connection="", updated_at=timezone.now()
    )
    if expired:
        staging.delete(session.pk)


def sessions_expire(*, now=None) -> int:
    """Expire idle sessions and delete their staged audio; returns how many."""
    now = now or timezone.now()
    idle = LiveSession.objects.filter(status=LiveStatus.ACTIVE, expires_at__lte=now)
    count = 0
    for session in idle.iterator():
        session_expire(session=session)
        count += 1
    # Staging whose session is over (a delete that failed) or gone (a crash
    # between the first write and the row) is removed here.
    for session_id in staging.session_ids():
        keep = LiveSession.objects.filter(
            pk=session_id, status__in=[LiveStatus.ACTIVE, LiveStatus.ENDING]
        ).exists()
        if not keep:
            _staging_delete(session_id)
    # An end interrupted by a crash left "ending" behind: it can be ended again.
    LiveSession.objects.filter(
        status=LiveStatus.ENDING, updated_at__lt=now - timedelta(minutes=10)
    ).update(status=LiveStatus.ACTIVE, expires_at=_expiry(now))
    return count


def sessions_cancel_for_user(*, user_id: int) -> int:
    ids = list(
        LiveSession.objects.filter(
            user_id=user_id, status__in=[LiveStatus.ACTIVE, LiveStatus.ENDING]
        ).values_list("pk", flat=True)
    )
    LiveSession.objects.filter(pk__in=ids).update(status=LiveStatus.CANCELLED, connection="")
    for pk in ids:
        staging.delete(pk)
    return len(ids)


def recording_progress(*, recording_id) -> dict | None:
    recording = (
        Recording.objects.filter(pk=recording_id)
        .values("id", "status", "rejection_reason", "rejection")
        .first()
    )
    if recording is None:
        return None
    from recordings.models import Chunk

    return {
        "type": "status",
        "recording": str(recording["id"]),
        "status": recording["status"],
        "chunk_count": Chunk.objects.filter(recording_id=recording_id).count(),
        "rejection_reason": (
            recording_services.rejection_text(recording["rejection"], recording["rejection_reason"])
            if recording["rejection_reason"]
            else ""
        ),
    }


def staged_bytes(*, session: LiveSession) -> bytes:
    """Everything acknowledged so far, in order (feeds a resumed connection's decoder)."""
    return staging.read_all(session.pk, session.next_seq)
