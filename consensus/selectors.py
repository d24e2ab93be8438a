from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Sum
from django.utils import timezone

from recordings.models import Chunk, ChunkStatus, Recording, RecordingStatus
from transcriptions.models import Transcription


def platform_stats() -> dict:
    """Totals per language: grouped aggregates served by the status indexes."""
    languages: dict[str, dict] = defaultdict(
        lambda: {"hours_recorded": 0.0, "hours_validated": 0.0, "recordings": 0, "chunks": {}}
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
    chunks: dict[str, int] = defaultdict(int)
    for lang in languages.values():
        for status, n in lang["chunks"].items():
            chunks[status] += n
    contributors = Recording.objects.values("contributor").distinct().count()
    transcribers = Transcription.objects.values("user").distinct().count()
    return {
        "hours_recorded": round(sum(v["hours_recorded"] for v in languages.values()), 3),
        "hours_validated": round(sum(v["hours_validated"] for v in languages.values()), 3),
        "recordings": sum(v["recordings"] for v in languages.values()),
        "chunks": dict(chunks),
        "contributors": contributors,
        "transcribers": transcribers,
        "transcriptions": Transcription.objects.count(),
        "languages": dict(languages),
        "generated_at": timezone.now().isoformat(),
    }
