from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from recordings.models import Language, Recording, Script


class CampaignStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")


class Campaign(models.Model):
    """A recording drive: an organiser, a goal, a time window and a join code."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("language")
    )
    # Which scripts participants read first: the selection if any, else those
    # whose source is ``script_source`` (the label given when they were
    # imported), else every active script of the language.
    scripts = models.ManyToManyField(
        Script, blank=True, related_name="campaigns", verbose_name=_("scripts")
    )
    script_source = models.CharField(_("script source"), max_length=300, blank=True)
    goal_recorded_minutes = models.PositiveIntegerField(_("goal: minutes recorded"))
    goal_validated_minutes = models.PositiveIntegerField(_("goal: minutes validated"), default=0)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(
        _("status"), max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.ACTIVE
    )
    # Whether participants may have their name shown; each still opts in.
    show_names = models.BooleanField(_("names may be shown"), default=True)
    organiser = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="organised_campaigns",
        verbose_name=_("organiser"),
    )
    join_code = models.CharField(_("join code"), max_length=16, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="campaign_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Participation(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    # "participant 7" for those who keep their name to themselves: the order of joining.
    number = models.PositiveIntegerField()
    show_name = models.BooleanField(_("show my name"), default=False)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("participation")
        verbose_name_plural = _("participations")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="participation_once"),
            models.UniqueConstraint(fields=["campaign", "number"], name="participation_number"),
        ]
        indexes = [
            # "This reader's current campaign", asked on every script request.
            models.Index(
                fields=["user"], condition=models.Q(left_at__isnull=True), name="participation_cur"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.number}"


class CampaignRecording(models.Model):
    """A recording made for a campaign (its chunks are found through it).

    Kept here rather than as a column of Recording: the recordings app knows
    nothing of campaigns."""

    recording = models.OneToOneField(
        Recording, on_delete=models.CASCADE, primary_key=True, related_name="campaign_link"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recordings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign recording")
        verbose_name_plural = _("campaign recordings")

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.recording_id}"


class EventKind(models.TextChoices):
    JOINED = "joined", _("joined")
    STARTED = "started", _("started reading")
    UPLOADED = "uploaded", _("uploaded a reading")
    CHUNKED = "chunked", _("reading accepted")
    REJECTED = "rejected", _("reading rejected")
    FAILED = "failed", _("reading failed")
    VALIDATED = "validated", _("sentence validated")
    CHUNK_REJECTED = "chunk_rejected", _("sentence rejected")
    DECIDED = "decided", _("sentence decided")
    PAUSED = "paused", _("paused")
    RESUMED = "resumed", _("resumed")
    CLOSED = "closed", _("closed")
    # Not activity (an edit, someone leaving), but every screen refreshes.
    CHANGED = "changed", _("changed")


class CampaignEvent(models.Model):
    """Something that changed a campaign's progress, written by whichever
    process saw it (a web process or a worker). Sockets learn of changes by
    watching this table (campaigns/hub.py), which is what carries them across
    processes on both shapes; it is also the "latest activity" list."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign event")
        verbose_name_plural = _("campaign events")
        indexes = [models.Index(fields=["campaign", "-id"], name="campaign_event_latest")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.kind}"
