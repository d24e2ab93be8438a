"""Writes on campaigns: create, edit, pause/close, join and leave, and the events."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import codes
from campaigns.models import (
    Campaign,
    CampaignEvent,
    CampaignRecording,
    CampaignStatus,
    EventKind,
    Participation,
)
from recordings.models import Recording
from shrutik.exceptions import ApplicationError

EDITABLE = (
    "name",
    "description",
    "script_source",
    "goal_recorded_minutes",
    "goal_validated_minutes",
    "starts_at",
    "ends_at",
    "show_names",
)


def _check_window(starts_at, ends_at) -> None:
    if ends_at <= starts_at:
        raise ApplicationError(400, _("A campaign must end after it starts."))


def campaign_create(*, organiser, scripts=(), **fields) -> Campaign:
    """A new active campaign with a fresh join code (drawn again on the rare clash)."""
    _check_window(fields["starts_at"], fields["ends_at"])
    for _attempt in range(5):
        try:
            with transaction.atomic():
                campaign = Campaign.objects.create(
                    organiser=organiser, join_code=codes.code_generate(), **fields
                )
                campaign.scripts.set(scripts)
                return campaign
        except IntegrityError:
            if not Campaign.objects.filter(join_code=campaign.join_code).exists():
                raise
    raise ApplicationError(503, _("No join code could be drawn; try again."))


def campaign_update(*, campaign: Campaign, scripts=None, **fields) -> Campaign:
    if campaign.status == CampaignStatus.CLOSED:
        raise ApplicationError(409, _("This campaign is closed and can no longer be changed."))
    for name, value in fields.items():
        if name in EDITABLE:
            setattr(campaign, name, value)
    _check_window(campaign.starts_at, campaign.ends_at)
    with transaction.atomic():
        campaign.save()
        if scripts is not None:
            campaign.scripts.set(scripts)
    event_record(campaign_id=campaign.pk, kind=None)
    return campaign


# The organiser's buttons and API actions, and the status each one sets.
STATUS_ACTIONS = {
    "pause": CampaignStatus.PAUSED,
    "resume": CampaignStatus.ACTIVE,
    "close": CampaignStatus.CLOSED,
}

_TRANSITIONS = {
    CampaignStatus.PAUSED: ({CampaignStatus.ACTIVE}, EventKind.PAUSED),
    CampaignStatus.ACTIVE: ({CampaignStatus.PAUSED}, EventKind.RESUMED),
    CampaignStatus.CLOSED: ({CampaignStatus.ACTIVE, CampaignStatus.PAUSED}, EventKind.CLOSED),
}


def campaign_set_status(*, campaign: Campaign, status: str) -> Campaign:
    """Pause, resume or close; a closed campaign stays closed."""
    allowed_from, kind = _TRANSITIONS[status]
    now = timezone.now()
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=allowed_from).update(
        status=status, closed_at=now if status == CampaignStatus.CLOSED else None
    )
    campaign.refresh_from_db()
    if not changed and campaign.status != status:
        raise ApplicationError(
            409,
            _("A campaign that is {current} cannot be {wanted}.").format(
                current=campaign.get_status_display().lower(),
                wanted=CampaignStatus(status).label.lower(),
            ),
        )
    if changed:
        event_record(campaign_id=campaign.pk, kind=kind)
    return campaign


def campaign_join(*, user, code: str, show_name: bool = False) -> Participation:
    """Join the campaign with ``code``. A reader takes part in one campaign at a
    time: joining one leaves the others. Joining again updates the name choice."""
    normalised = codes.code_normalise(code)
    campaign = None
    if codes.code_is_wellformed(normalised):
        campaign = Campaign.objects.filter(join_code=normalised).first()
    if campaign is None:
        raise ApplicationError(404, _("No campaign has this code; check it and try again."))
    if campaign.status == CampaignStatus.CLOSED or campaign.ends_at <= timezone.now():
        raise ApplicationError(409, _("This campaign has ended."))
    now = timezone.now()
    with transaction.atomic():
        # Serialises joins of one campaign, so that numbers are handed out once each.
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        Participation.objects.filter(user=user, left_at__isnull=True).exclude(
            campaign=campaign
        ).update(left_at=now)
        participation = Participation.objects.filter(campaign=campaign, user=user).first()
        rejoined = participation is None or participation.left_at is not None
        if participation is None:
            number = (
                Participation.objects.filter(campaign=campaign).aggregate(n=Max("number"))["n"] or 0
            ) + 1
            participation = Participation(campaign=campaign, user=user, number=number)
        participation.show_name = show_name and campaign.show_names
        participation.left_at = None
        participation.save()
        if rejoined:
            event_record(campaign_id=campaign.pk, kind=EventKind.JOINED, user_id=user.pk)
    return participation


def campaign_leave(*, user, campaign: Campaign) -> None:
    left = Participation.objects.filter(campaign=campaign, user=user, left_at__isnull=True).update(
        left_at=timezone.now()
    )
    if not left:
        raise ApplicationError(404, _("You are not taking part in this campaign."))
    event_record(campaign_id=campaign.pk, kind=None)


def event_record(*, campaign_id, kind: str | None, user_id=None, seconds: float = 0.0) -> None:
    """Note a change of a campaign's progress. ``kind`` None is a change that
    is not shown as activity (an edit, a participant leaving) but still
    refreshes every screen."""
    CampaignEvent.objects.create(
        campaign_id=campaign_id, kind=kind or EventKind.CHANGED, user_id=user_id, seconds=seconds
    )


def campaign_running_for(*, user_id, language_id=None) -> Campaign | None:
    """The campaign ``user_id`` takes part in, if it is running now (active and
    within its window), in ``language_id`` when given."""
    now = timezone.now()
    filters = Q(
        participations__user_id=user_id,
        participations__left_at__isnull=True,
        status=CampaignStatus.ACTIVE,
        starts_at__lte=now,
        ends_at__gt=now,
    )
    if language_id is not None:
        filters &= Q(language_id=language_id)
    return Campaign.objects.filter(filters).first()


def recording_link(*, recording_id) -> CampaignRecording | None:
    """Tag a new recording with its reader's running campaign, if it has one."""
    recording = (
        Recording.objects.filter(pk=recording_id)
        .values("contributor_id", "script__language_id", "duration")
        .first()
    )
    if recording is None:
        return None
    campaign = campaign_running_for(
        user_id=recording["contributor_id"], language_id=recording["script__language_id"]
    )
    if campaign is None:
        return None
    link, _created = CampaignRecording.objects.get_or_create(
        recording_id=recording_id, defaults={"campaign": campaign}
    )
    return link
