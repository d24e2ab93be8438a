"""A contributor's "download my data": everything the platform holds about them,
as one zip streamed while it is built (their original recordings included)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count
from django.utils import timezone

from contributors.models import PROFILE_FIELDS, ReliabilityScore
from exports.models import AccessRequest
from recordings.models import Recording
from shrutik.storage import COPY_BUFFER
from transcriptions.models import Transcription


def contributor_data(*, user) -> dict:
    """Everything the platform holds about ``user``, for their "download my data"."""
    recordings = (
        Recording.objects.filter(contributor=user)
        .select_related("script__language")
        .annotate(chunk_total=Count("chunks"))
        .order_by("created_at")
    )
    transcriptions = (
        Transcription.objects.filter(user=user)
        .select_related("chunk__language")
        .order_by("created_at")
    )
    return {
        "recordings": list(recordings),
        "transcriptions": list(transcriptions),
        "reliability": list(ReliabilityScore.objects.filter(user=user).order_by("language")),
        "access_requests": list(AccessRequest.objects.filter(user=user).order_by("created_at")),
    }


class ZipSink:
    """A write-only, unseekable file: ZipFile writes into it, the response drains it.

    Without ``seek`` ZipFile writes data descriptors after each member, so the
    archive streams out as it is built and never sits whole in memory or on disk.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def my_data_zip(user) -> Iterator[bytes]:
    data = contributor_data(user=user)
    recordings = []
    for rec in data["recordings"]:
        suffix = PurePosixPath(rec.audio.name).suffix if rec.audio.name else ""
        recordings.append(
            {
                "id": str(rec.id),
                "created_at": rec.created_at.isoformat(),
                "language": rec.script.language.code,
                "script": rec.script.text,
                "status": rec.status,
                "duration_seconds": rec.duration,
                "level_dbfs": rec.level_dbfs,
                "clipping_ratio": rec.clipping_ratio,
                "speech_ratio": rec.speech_ratio,
                "snr_db": rec.snr_db,
                "rejection_reason": rec.rejection_reason,
                "chunk_count": rec.chunk_total,
                "audio_file": f"recordings/{rec.id}{suffix}" if rec.audio.name else "",
                "_key": rec.audio.name,
            }
        )
    transcriptions = [
        {
            "id": t.pk,
            "created_at": t.created_at.isoformat(),
            "chunk": str(t.chunk_id),
            "language": t.chunk.language.code,
            "text": t.text,
            "flags": " ".join(t.flags),
            "source": t.source,
            "time_spent_ms": t.time_spent_ms,
        }
        for t in data["transcriptions"]
    ]
    held = (
        "username",
        *PROFILE_FIELDS,
        "consent_version",
        "consent_at",
        "date_joined",
        "speaker_id",
    )
    profile = {field: getattr(user, field) for field in held}
    public_recordings = [{k: v for k, v in r.items() if k != "_key"} for r in recordings]
    document = {
        "exported_at": timezone.now(),
        "profile": profile,
        "recordings": public_recordings,
        "transcriptions": transcriptions,
        "reliability": [
            {"language": s.language, "accuracy": round(s.accuracy, 4), "chunks": s.chunks}
            for s in data["reliability"]
        ],
        "researcher_access_requests": [
            {
                "created_at": a.created_at,
                "name": a.name,
                "institution": a.institution,
                "email": a.email,
                "purpose": a.purpose,
                "terms_version": a.terms_version,
                "status": a.status,
                "note": a.note,
                "decided_at": a.decided_at,
            }
            for a in data["access_requests"]
        ],
    }
    sink = ZipSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json", json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        )
        archive.writestr("recordings.csv", _csv(public_recordings))
        archive.writestr("transcriptions.csv", _csv(transcriptions))
        yield sink.drain()
        for rec in recordings:
            if not rec["_key"] or not default_storage.exists(rec["_key"]):
                continue
            # Audio is already compressed: storing it saves CPU on a 2-core box.
            info = zipfile.ZipInfo(rec["audio_file"], date_time=timezone.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            with (
                default_storage.open(rec["_key"], "rb") as src,
                archive.open(info, "w", force_zip64=True) as dest,
            ):
                while block := src.read(COPY_BUFFER):
                    dest.write(block)
                    yield sink.drain()
    yield sink.drain()
