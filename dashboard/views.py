"""The dashboard page and "download my data"."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard import selectors
from dashboard.charts import hours_chart
from dashboard.takeout import my_data_zip
from shrutik.streaming import streaming_response


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


@login_required
@require_GET
def my_data_download(request):
    """A zip of the user's recordings (original audio), transcriptions and metadata."""
    response = streaming_response(
        request, my_data_zip(request.user), content_type="application/zip"
    )
    filename = f"shrutik-my-data-{timezone.now():%Y%m%d}.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
