"""Reactions to the lower apps' signals: tag readings, note events, prefer scripts.

Each runs after the change it reports is committed, in whichever process made
it (a web process or a worker); what it writes (CampaignEvent) is how the
sockets in every web process hear of it.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from campaigns import services
from campaigns.models import CampaignRecording, EventKind, Participation
from recordings.models import Chunk, ChunkStatus, Recording, Script

_RECORDING_EVENTS = {
    "uploaded": EventKind.UPLOADED,
    "chunked": EventKind.CHUNKED,
    "rejected": EventKind.REJECTED,
    "failed": EventKind.FAILED,
}
_CHUNK_EVENTS = {
    ChunkStatus.VALIDATED: EventKind.VALIDATED,
    ChunkStatus.REJECTED: EventKind.CHUNK_REJECTED,
}


def on_recording_status_changed(sender, *, recording_id: str, status: str, **kwargs) -> None:
    if status == "uploaded":
        link = services.recording_link(recording_id=recording_id)
    else:
        link = CampaignRecording.objects.filter(recording_id=recording_id).first()
    if link is None or status not in _RECORDING_EVENTS:
        return
    recording = Recording.objects.values("contributor_id", "duration").get(pk=recording_id)
    services.event_record(
        campaign_id=link.campaign_id,
        kind=_RECORDING_EVENTS[status],
        user_id=recording["contributor_id"],
        seconds=recording["duration"] or 0.0,
    )


def on_chunk_decided(sender, *, chunk_id: str, status: str, **kwargs) -> None:
    chunk = (
        Chunk.objects.filter(pk=chunk_id, recording__campaign_link__isnull=False)
        .values("recording__campaign_link__campaign_id", "contributor_id", "duration")
        .first()
    )
    if chunk is None:
        return
    services.event_record(
        campaign_id=chunk["recording__campaign_link__campaign_id"],
        kind=_CHUNK_EVENTS.get(status, EventKind.DECIDED),
        user_id=chunk["contributor_id"],
        seconds=chunk["duration"],
    )


def on_reading_started(sender, *, user_id: int, script_id: int, **kwargs) -> None:
    language_id = Script.objects.filter(pk=script_id).values_list("language_id", flat=True).first()
    campaign = services.campaign_running_for(user_id=user_id, language_id=language_id)
    if campaign is not None:
        services.event_record(campaign_id=campaign.pk, kind=EventKind.STARTED, user_id=user_id)


def on_script_preference(sender, *, user, language, **kwargs) -> Q | None:
    """The running campaign's scripts first; None when it reads them all."""
    campaign = services.campaign_running_for(user_id=user.pk, language_id=language.pk)
    if campaign is None:
        return None
    if campaign.scripts.exists():
        return Q(campaigns=campaign)
    if campaign.script_source:
        return Q(source=campaign.script_source)
    return None


def on_user_erased(sender, *, user_id: int, **kwargs) -> None:
    """An erased account's name is no longer shown, and it has left its campaigns."""
    Participation.objects.filter(user_id=user_id).update(show_name=False)
    Participation.objects.filter(user_id=user_id, left_at__isnull=True).update(
        left_at=timezone.now()
    )
