from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LiveStatus(models.TextChoices):
    ACTIVE = "active", _("Receiving audio")
    ENDING = "ending", _("Becoming a recording")
    ENDED = "ended", _("Became a recording")
    REJECTED = "rejected", _("Refused at the end")
    CANCELLED = "cancelled", _("Cancelled by the reader")
    EXPIRED = "expired", _("Expired while idle")


class LiveSession(models.Model):
    """A reading streamed while it is recorded; becomes a Recording at its end.

    ``next_seq`` is the number of frames acknowledged: frames 0..next_seq-1 are
    durable in staging, in order and without gaps. ``connection`` names the
    socket currently streaming (empty when none), so an abandoned session is
    told apart from one in use.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_sessions"
    )
    script = models.ForeignKey("recordings.Script", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=LiveStatus.choices, default=LiveStatus.ACTIVE)
    next_seq = models.PositiveIntegerField(default=0)
    staged_bytes = models.BigIntegerField(default=0)
    connection = models.CharField(max_length=200, blank=True)
    recording = models.ForeignKey(
        "recordings.Recording", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("live session")
        verbose_name_plural = _("live sessions")
        indexes = [
            models.Index(fields=["user", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"live {self.id} ({self.status}, {self.next_seq} frames)"

    @property
    def last_acked(self) -> int:
        return self.next_seq - 1
