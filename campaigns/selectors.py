"""Reads on campaigns: who sees which, and a campaign's progress."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignEvent, EventKind, Participation
from recordings.models import Chunk, ChunkStatus, Recording, RecordingStatus

WAITING = (RecordingStatus.UPLOADED, RecordingStatus.PROCESSING)
# Counted as recorded: readings accepted or still on their way (a rejection
# takes its minutes back off the bar).
RECORDED = (*WAITING, RecordingStatus.CHUNKED)


def campaign_list_organised(*, user) -> QuerySet[Campaign]:
    """An organiser's own campaigns; every campaign for the platform's admins."""
    qs = Campaign.objects.select_related("language", "organiser")
    if user.is_superuser:
        return qs
    return qs.filter(organiser=user)


def campaign_list_joined(*, user) -> QuerySet[Campaign]:
    return Campaign.objects.select_related("language").filter(
        participations__user=user, participations__left_at__isnull=True
    )


def campaign_visible(*, user, pk) -> tuple[Campaign | None, bool]:
    """The campaign and whether ``user`` runs it (organiser or admin); None when
    they neither run it nor take part in it."""
    campaign = Campaign.objects.select_related("language", "organiser").filter(pk=pk).first()
    if campaign is None:
        return None, False
    if user.is_superuser or campaign.organiser_id == user.pk:
        return campaign, True
    if Participation.objects.filter(campaign=campaign, user=user, left_at__isnull=True).exists():
        return campaign, False
    return None, False


def participation_current(*, user) -> Participation | None:
    return (
        Participation.objects.select_related("campaign__language")
        .filter(user=user, left_at__isnull=True)
        .order_by("-joined_at")
        .first()
    )


def _names(campaign: Campaign, user_ids) -> dict[int, str]:
    """What others see for each participant: the name they chose to show, else
    "participant N" (their order of joining)."""
    rows = Participation.objects.filter(campaign=campaign, user_id__in=set(user_ids)).values_list(
        "user_id", "number", "show_name", "user__display_name", "user__username"
    )
    names = {}
    for user_id, number, show_name, display_name, username in rows:
        if show_name and campaign.show_names:
            names[user_id] = display_name or username
        else:
            names[user_id] = _("participant {number}").format(number=number)
    return names


def latest_event_id(campaign_id) -> int:
    """The newest event's id: the campaign's version, compared by the socket hub."""
    return (
        CampaignEvent.objects.filter(campaign_id=campaign_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )


def campaign_progress(*, campaign: Campaign) -> dict:
    """Aggregates only: what every participant may see (no recording of anyone)."""
    recordings = Recording.objects.filter(campaign_link__campaign=campaign)
    totals = recordings.aggregate(
        recorded=Sum("duration", filter=Q(status__in=RECORDED), default=0.0),
        waiting=Count("pk", filter=Q(status__in=WAITING)),
        chunked=Count("pk", filter=Q(status=RecordingStatus.CHUNKED)),
        rejected=Count("pk", filter=Q(status__in=[RecordingStatus.REJECTED, "failed"])),
    )
    validated = Chunk.objects.filter(
        recording__campaign_link__campaign=campaign, status=ChunkStatus.VALIDATED
    ).aggregate(count=Count("pk"), seconds=Sum("duration", default=0.0))
    top = list(
        recordings.filter(status__in=RECORDED)
        .values("contributor_id")
        .annotate(seconds=Sum("duration", default=0.0), readings=Count("pk"))
        .order_by("-seconds", "contributor_id")[: settings.CAMPAIGN_TOP_PARTICIPANTS]
    )
    shown = settings.CAMPAIGN_EVENTS_SHOWN
    events = list(
        CampaignEvent.objects.filter(campaign=campaign)
        .exclude(kind=EventKind.CHANGED)
        .order_by("-id")
        .values("id", "kind", "user_id", "seconds", "created_at")[:shown]
    )
    names = _names(
        campaign, [row["contributor_id"] for row in top] + [e["user_id"] for e in events]
    )
    labels = dict(EventKind.choices)
    recorded_minutes = round(totals["recorded"] / 60, 2)
    validated_minutes = round(validated["seconds"] / 60, 2)
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "version": latest_event_id(campaign.pk),
        "recorded_minutes": recorded_minutes,
        "validated_minutes": validated_minutes,
        "goal_recorded_minutes": campaign.goal_recorded_minutes,
        "goal_validated_minutes": campaign.goal_validated_minutes,
        "recorded_percent": _percent(recorded_minutes, campaign.goal_recorded_minutes),
        "validated_percent": _percent(validated_minutes, campaign.goal_validated_minutes),
        "participants": Participation.objects.filter(
            campaign=campaign, left_at__isnull=True
        ).count(),
        "recordings": {
            "waiting": totals["waiting"],
            "chunked": totals["chunked"],
            "rejected": totals["rejected"],
        },
        "chunks_validated": validated["count"],
        "top_participants": [
            {
                "name": names.get(row["contributor_id"], ""),
                "minutes": round(row["seconds"] / 60, 2),
                "recordings": row["readings"],
            }
            for row in top
        ],
        "events": [
            {
                "id": event["id"],
                "kind": event["kind"],
                "text": str(labels.get(event["kind"], event["kind"])),
                "who": names.get(event["user_id"], ""),
                "seconds": round(event["seconds"], 1),
                "at": event["created_at"].isoformat(),
            }
            for event in events
        ],
    }


def _percent(done: float, goal: int) -> float:
    if not goal:
        return 100.0 if done else 0.0
    return round(min(100.0, 100.0 * done / goal), 1)


def campaign_name(*, pk) -> str | None:
    """The campaign's name (an export's datasheet names it), or None if there is none."""
    return Campaign.objects.filter(pk=pk).values_list("name", flat=True).first()


def campaign_chunks(*, campaign_id) -> Q:
    """The chunks cut from readings made for the campaign, as a condition on Chunk."""
    return Q(recording__campaign_link__campaign_id=campaign_id)
