"""Web pages that look across apps: the dashboard and "download my data"."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import PurePosixPath

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from consensus import selectors
from shrutik.storage import COPY_BUFFER
from shrutik.streaming import streaming_response

# Drawn for a phone's width: the SVG scales, and its text with it.
CHART_WIDTH, CHART_HEIGHT = 400, 220
CHART_PAD = {"left": 36, "right": 10, "top": 10, "bottom": 24}
# Colour-blind-safe (Okabe–Ito) colours, one per language in order.
CHART_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


@login_required
@require_GET
def dashboard(request):
    names = selectors.language_names()
    mine = selectors.contributor_dashboard(user=request.user)
    reliability = [
        {"language": names.get(s.language, s.language), "accuracy": s.accuracy, "chunks": s.chunks}
        for s in mine["reliability"]
    ]
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "mine": mine,
            "reliability": reliability,
            "stats": selectors.platform_stats_cached(),
            "chart": hours_chart(selectors.hours_by_day(days=30), names=names),
            "leaderboards": selectors.leaderboards(),
        },
    )


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above ``value`` (an axis maximum people read)."""
    if value <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(value))
    return next(base * step for step in (1, 2, 5, 10) if base * step >= value)


def hours_chart(
    series: dict[str, dict[str, list[tuple[date, float]]]], *, names: dict[str, str]
) -> dict:
    """Geometry for an inline SVG line chart of cumulative hours (drawn by the template).

    Pure layout: one polyline per language and kind (recorded solid, validated
    dashed), three y ticks and first/middle/last day labels.
    """
    plot_w = CHART_WIDTH - CHART_PAD["left"] - CHART_PAD["right"]
    plot_h = CHART_HEIGHT - CHART_PAD["top"] - CHART_PAD["bottom"]
    values = [h for kinds in series.values() for pts in kinds.values() for _, h in pts]
    # A young platform has minutes, not hours: an axis of 0.0, 0.0, 0.0 says nothing.
    unit, scale = ("hours", 1.0) if max(values, default=0.0) >= 1 else ("minutes", 60.0)
    top = _nice_ceiling(max(values, default=0.0) * scale)
    days = next((pts for kinds in series.values() for pts in kinds.values()), [])

    def x(i: int) -> float:
        return round(CHART_PAD["left"] + plot_w * i / max(len(days) - 1, 1), 1)

    def y(hours: float) -> float:
        return round(CHART_PAD["top"] + plot_h * (1 - hours * scale / top), 1)

    lines = []
    for n, (code, kinds) in enumerate(series.items()):
        colour = CHART_COLOURS[n % len(CHART_COLOURS)]
        for kind in ("recorded", "validated"):
            points = kinds.get(kind, [])
            lines.append(
                {
                    "language": names.get(code, code),
                    "kind": kind,
                    "colour": colour,
                    "points": " ".join(f"{x(i)},{y(h)}" for i, (_, h) in enumerate(points)),
                    "last": points[-1][1] if points else 0.0,
                }
            )
    ticks = [
        {"value": top * f, "label": f"{top * f:g}", "y": y(top * f / scale)} for f in (0, 0.5, 1)
    ]
    labels = [
        {"day": days[i][0], "x": x(i), "anchor": anchor}
        for i, anchor in ((0, "start"), (len(days) // 2, "middle"), (len(days) - 1, "end"))
        if days
    ]
    table = [
        {
            "day": day,
            "cells": [
                (names.get(code, code), kinds["recorded"][i][1], kinds["validated"][i][1])
                for code, kinds in series.items()
            ],
        }
        for i, (day, _) in enumerate(days)
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_PAD["left"],
        "right": CHART_WIDTH - CHART_PAD["right"],
        "bottom": CHART_HEIGHT - CHART_PAD["bottom"],
        "lines": lines,
        "ticks": ticks,
        "labels": labels,
        "table": table[::-1],
        "unit": unit,
        "empty": not series,
    }


class _ZipSink:
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


def _my_data_zip(user) -> Iterator[bytes]:
    data = selectors.contributor_data(user=user)
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
    profile = {
        field: getattr(user, field)
        for field in (
            "username",
            "email",
            "display_name",
            "age_range",
            "gender",
            "native_language",
            "dialect",
            "show_on_leaderboard",
            "consent_version",
            "consent_at",
            "date_joined",
            "speaker_id",
        )
    }
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
    }
    sink = _ZipSink()
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


@login_required
@require_GET
def my_data_download(request):
    """A zip of the user's recordings (original audio), transcriptions and metadata."""
    response = streaming_response(
        request, _my_data_zip(request.user), content_type="application/zip"
    )
    filename = f"shrutik-my-data-{timezone.now():%Y%m%d}.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
