"""Reads for the dashboard: platform totals, the hours chart, leaderboards and a
contributor's own work. They read contributors, recordings and transcriptions only.

The platform-wide figures may be a few seconds old and come from the read
replica when there is one (shrutik/db.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from contributors.models import ReliabilityScore, User
from recordings.models import Chunk, ChunkStatus, Language, Recording, RecordingStatus
from shrutik.db import replica_reads
from transcriptions.models import Transcription


@replica_reads()
def platform_stats() -> dict:
    """Totals per language: grouped aggregates served by the status indexes."""
    languages: dict[str, dict] = defaultdict(
        lambda: {
            "hours_recorded": 0.0,
            "hours_validated": 0.0,
            "hours_accepted": 0.0,
            "recordings": 0,
            "contributors": 0,
            "chunks": {},
        }
    )
    recorded = (
        Recording.objects.filter(status=RecordingStatus.CHUNKED)
        .values("script__language__code")
        .annotate(seconds=Sum("duration"), n=Count("id"))
        .order_by()
    )
    for row in recorded:
        lang = languages[row["script__language__code"]]
        lang["hours_recorded"] = round((row["seconds"] or 0) / 3600, 3)
        lang["recordings"] = row["n"]
    by_status = (
        Chunk.objects.values("language__code", "status")
        .annotate(seconds=Sum("duration"), n=Count("id"))
        .order_by()
    )
    for row in by_status:
        lang = languages[row["language__code"]]
        lang["chunks"][row["status"]] = row["n"]
        if row["status"] == ChunkStatus.VALIDATED:
            lang["hours_validated"] = round((row["seconds"] or 0) / 3600, 3)
        elif row["status"] == ChunkStatus.ACCEPTED:
            # The crowd's settled text below the validated bar: shown apart,
            # never counted as validated.
            lang["hours_accepted"] = round((row["seconds"] or 0) / 3600, 3)
    chunks: dict[str, int] = defaultdict(int)
    for lang in languages.values():
        for status, n in lang["chunks"].items():
            chunks[status] += n
    speakers = (
        Recording.objects.values("script__language__code")
        .annotate(n=Count("contributor", distinct=True))
        .order_by()
    )
    for row in speakers:
        languages[row["script__language__code"]]["contributors"] = row["n"]
    contributors = Recording.objects.values("contributor").distinct().count()
    transcribers = Transcription.objects.values("user").distinct().count()
    return {
        "hours_recorded": round(sum(v["hours_recorded"] for v in languages.values()), 3),
        "hours_validated": round(sum(v["hours_validated"] for v in languages.values()), 3),
        "hours_accepted": round(sum(v["hours_accepted"] for v in languages.values()), 3),
        "recordings": sum(v["recordings"] for v in languages.values()),
        "chunks": dict(chunks),
        "contributors": contributors,
        "transcribers": transcribers,
        "transcriptions": Transcription.objects.count(),
        "languages": dict(languages),
        "generated_at": timezone.now().isoformat(),
    }


# Same key as the stats API, so the page and the API share one computation.
STATS_CACHE_KEY = "shrutik:stats:v1"


def platform_stats_cached() -> dict:
    """``platform_stats`` computed at most once per STATS_CACHE_SECONDS."""
    stats = cache.get(STATS_CACHE_KEY)
    if stats is None:
        stats = platform_stats()
        cache.set(STATS_CACHE_KEY, stats, settings.STATS_CACHE_SECONDS)
    return stats


@replica_reads()
def hours_by_day(*, days: int = 30) -> dict[str, dict[str, list[tuple[date, float]]]]:
    """Cumulative hours recorded and validated per language, one point per day.

    ``{"bn": {"recorded": [(day, hours), ...], "validated": [...]}}`` with ``days``
    points ending today. Recorded hours count chunked recordings by upload day;
    validated hours count validated chunks by the day of their last update (the
    decision that validated them is the last write to a validated chunk). Both
    are GROUP BY day over the status indexes, so the cost does not grow with the
    window; totals before the window are carried in as the starting value.
    """
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    recorded = (
        Recording.objects.filter(status=RecordingStatus.CHUNKED)
        .annotate(day=TruncDate("created_at"))
        .values("script__language__code", "day")
        .annotate(seconds=Sum("duration"))
        .order_by()
    )
    validated = (
        Chunk.objects.filter(status=ChunkStatus.VALIDATED)
        .annotate(day=TruncDate("updated_at"))
        .values("language__code", "day")
        .annotate(seconds=Sum("duration"))
        .order_by()
    )
    per_day: dict[str, dict[str, dict[date, float]]] = defaultdict(
        lambda: {"recorded": defaultdict(float), "validated": defaultdict(float)}
    )
    for row in recorded:
        per_day[row["script__language__code"]]["recorded"][row["day"]] += row["seconds"] or 0
    for row in validated:
        per_day[row["language__code"]]["validated"][row["day"]] += row["seconds"] or 0
    result: dict[str, dict[str, list[tuple[date, float]]]] = {}
    for code, series in sorted(per_day.items()):
        result[code] = {}
        for kind, seconds_by_day in series.items():
            total = sum(s for d, s in seconds_by_day.items() if d < start)
            points = []
            for offset in range(days):
                day = start + timedelta(days=offset)
                total += seconds_by_day.get(day, 0.0)
                points.append((day, round(total / 3600, 3)))
            result[code][kind] = points
    return result


@replica_reads()
def leaderboards(*, limit: int = 10) -> dict[str, list[dict]]:
    """Top contributors who opted in (and set a display name), by hours and transcriptions.

    Only display names leave this function: never usernames, emails or ids.
    """
    opted_in = User.objects.filter(
        show_on_leaderboard=True, is_active=True, erased_at__isnull=True
    ).exclude(display_name="")
    by_hours = (
        opted_in.filter(recordings__status=RecordingStatus.CHUNKED)
        .annotate(seconds=Sum("recordings__duration"))
        .order_by("-seconds", "display_name")
        .values("display_name", "seconds")[:limit]
    )
    by_transcriptions = (
        opted_in.annotate(n=Count("transcriptions"))
        .filter(n__gt=0)
        .order_by("-n", "display_name")
        .values("display_name", "n")[:limit]
    )
    return {
        "hours": [
            {"name": r["display_name"], "hours": round((r["seconds"] or 0) / 3600, 2)}
            for r in by_hours
        ],
        "transcriptions": [{"name": r["display_name"], "count": r["n"]} for r in by_transcriptions],
    }


def contributor_dashboard(*, user, limit: int = 20) -> dict:
    """What one contributor sees about their own work: from the primary, so
    that a reading just uploaded is there."""
    recordings = (
        Recording.objects.filter(contributor=user)
        .select_related("script__language")
        .annotate(chunk_total=Count("chunks"))
        .order_by("-created_at")[:limit]
    )
    transcriptions = (
        Transcription.objects.filter(user=user)
        .select_related("chunk__language")
        .order_by("-created_at")[:limit]
    )
    totals = Transcription.objects.filter(user=user).aggregate(
        n=Count("id"), seconds=Sum("chunk__duration")
    )
    recorded = Recording.objects.filter(contributor=user).aggregate(
        n=Count("id"), seconds=Sum("duration")
    )
    return {
        "recordings": list(recordings),
        "recordings_total": recorded["n"],
        "recorded_minutes": round((recorded["seconds"] or 0) / 60, 1),
        "transcriptions": list(transcriptions),
        "transcriptions_total": totals["n"],
        "reliability": list(ReliabilityScore.objects.filter(user=user).order_by("language")),
    }


def language_progress() -> list[dict]:
    """Public progress per active language, for the home page: hours recorded and
    validated, and how many people have recorded (from the cached totals)."""
    per_language = platform_stats_cached()["languages"]
    rows = []
    for language in Language.objects.filter(active=True).order_by("code"):
        figures = per_language.get(language.code, {})
        rows.append(
            {
                "code": language.code,
                "name": language.native_name,
                "hours_recorded": figures.get("hours_recorded", 0.0),
                "hours_validated": figures.get("hours_validated", 0.0),
                "contributors": figures.get("contributors", 0),
            }
        )
    return rows


def language_names() -> dict[str, str]:
    """Native name by language code, for labelling figures (inactive languages too)."""
    return dict(Language.objects.values_list("code", "native_name"))


def contributor_recording(*, user, recording_id) -> Recording | None:
    """One of ``user``'s own recordings with its clips, or None (someone else's
    recording is as absent as one that does not exist)."""
    recording = (
        Recording.objects.filter(contributor=user, pk=recording_id)
        .select_related("script__language")
        .first()
    )
    if recording is not None:
        recording.clips = list(recording.chunks.order_by("index"))
    return recording
