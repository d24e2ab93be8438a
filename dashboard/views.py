"""The home page's public progress, the dashboard, a contributor's own
recording with its clips, and "download my data"."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from campaigns import selectors as campaign_selectors
from campaigns.models import CampaignStatus
from dashboard import selectors
from dashboard.charts import hours_chart
from dashboard.takeout import my_data_zip
from recordings.audio.quality import plain_quality
from recordings.services import rejection_text
from recordings.wording import quality_rows
from shrutik.storage import signed_url
from shrutik.streaming import streaming_response


@require_GET
def home(request):
    """The front page: what Shrutik is, how it works, and each language's progress."""
    return render(request, "home.html", {"progress": selectors.language_progress()})


@login_required
@require_GET
def dashboard(request):
    names = selectors.language_names()
    mine = selectors.contributor_dashboard(user=request.user)
    for recording in mine["recordings"]:
        recording.reason = _reason(recording)
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
            **_campaign_panel(request.user),
        },
    )


def _campaign_panel(user) -> dict:
    """The campaign the contributor takes part in, with its live progress."""
    participation = campaign_selectors.participation_current(user=user)
    if participation is None:
        return {}
    campaign = participation.campaign
    return {
        "campaign": campaign,
        "progress": campaign_selectors.campaign_progress(campaign=campaign),
        "statuses": CampaignStatus.choices,
    }


def _reason(recording) -> str:
    """Why the recording was refused, in the reader's language."""
    if not recording.rejection_reason:
        return ""
    return rejection_text(recording.rejection, recording.rejection_reason)


@login_required
@require_GET
def my_recording(request, recording_id):
    """Listen to one's own recording and each clip cut from it, with what became of them."""
    recording = selectors.contributor_recording(user=request.user, recording_id=recording_id)
    if recording is None:
        raise Http404
    seconds = settings.SIGNED_URL_SECONDS
    clips = [
        {"chunk": chunk, "audio_url": signed_url(chunk.audio.name, expires=seconds)}
        for chunk in recording.clips
    ]
    return render(
        request,
        "dashboard/recording.html",
        {
            "recording": recording,
            "reason": _reason(recording),
            "audio_url": signed_url(recording.audio.name, expires=seconds),
            "quality": quality_rows(
                plain_quality(
                    level_dbfs=recording.level_dbfs,
                    snr_db=recording.snr_db,
                    clipping_ratio=recording.clipping_ratio,
                )
            ),
            "clips": clips,
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
