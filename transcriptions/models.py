from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# A lease's mode is defined with the chunk, which carries the mode it asks for.
from recordings.models import Chunk, TaskMode


class TaskLease(models.Model):
    """A contributor's time-limited claim on a chunk they are working on."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="leases")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=10, choices=TaskMode.choices, default=TaskMode.TRANSCRIBE)
    # Set by earlier releases when a verifier answered "does not match" and
    # owed a typed text; a "no" is now a vote of its own. Kept while leases
    # written by running processes of the previous release may carry it.
    verify_rejected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("task lease")
        verbose_name_plural = _("task leases")
        constraints = [
            models.UniqueConstraint(fields=["chunk", "user"], name="lease_one_per_user_chunk"),
        ]
        indexes = [
            models.Index(fields=["chunk", "expires_at"]),
            models.Index(fields=["user", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"lease {self.chunk_id} → {self.user_id} until {self.expires_at:%H:%M:%S}"


class Flag(models.TextChoices):
    NOISE = "noise", _("Noisy audio")
    UNINTELLIGIBLE = "unintelligible", _("Unintelligible")
    WRONG_LANGUAGE = "wrong_language", _("Wrong language")
    OFFENSIVE = "offensive", _("Offensive content")
    EMPTY = "empty", _("No speech")


class TranscriptionSource(models.TextChoices):
    TYPED = "typed", _("Typed")
    VERIFIED = "verified", _("Verified against the script")


class Transcription(models.Model):
    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="transcriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transcriptions"
    )
    text = models.TextField(blank=True)
    normalized_text = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    source = models.CharField(
        max_length=10, choices=TranscriptionSource.choices, default=TranscriptionSource.TYPED
    )
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    # A listener's answer to "does the clip say this sentence?" (source
    # "verified"; text is the sentence for a yes, empty for a no); None for a
    # typed transcription.
    vote = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("transcription")
        verbose_name_plural = _("transcriptions")
        ordering = ["created_at"]
        constraints = [
            # The database, not the view, guarantees one transcription per person
            # per chunk, whatever races the clients produce.
            models.UniqueConstraint(fields=["chunk", "user"], name="transcription_one_per_user"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.chunk_id}: {self.text[:30]}"


class SkipReason(models.TextChoices):
    SKIP = "skip", _("Skipped")
    REPORT = "report", _("Reported")


class TaskSkip(models.Model):
    """A chunk a contributor skipped or reported; never offered to them again."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=SkipReason.choices)
    reason = models.CharField(max_length=40, blank=True)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("skipped task")
        verbose_name_plural = _("skipped tasks")
        constraints = [
            models.UniqueConstraint(fields=["chunk", "user"], name="skip_one_per_user_chunk"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.chunk_id} by {self.user_id}"
