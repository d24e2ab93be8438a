from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.Model):
    """A language that contributors read and transcribe, with its script rules."""

    code = models.CharField(
        _("code"),
        max_length=35,
        unique=True,
        help_text=_("Pick the language from the list, or type its code (such as bn for Bangla)."),
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("English name"))
    native_name = models.CharField(_("native name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)
    # Validation rules for imported script sentences.
    min_sentence_chars = models.PositiveIntegerField(_("shortest sentence (characters)"), default=3)
    max_sentence_chars = models.PositiveIntegerField(
        _("longest sentence (characters)"), default=250
    )
    allow_digits = models.BooleanField(
        _("digits allowed"),
        default=False,
        help_text=_("Digits are read in many ways; by default sentences must spell numbers."),
    )
    forbidden_chars = models.CharField(
        _("forbidden characters"),
        max_length=200,
        blank=True,
        default="<>{}[]\\|@#$%^*_=~`",
        help_text=_("Never allowed"),
    )
    chars_per_second = models.FloatField(
        _("characters per second"),
        null=True,
        blank=True,
        help_text=_("Typical reading speed; empty uses the default"),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("language")
        verbose_name_plural = _("languages")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class LengthBucket(models.TextChoices):
    # Buckets are cut at about 3 and 7 minutes (recordings.audio.text.length_bucket),
    # so "2min" holds everything from two sentences up: the label says so.
    SINGLE = "single", _("One sentence")
    TWO_MIN = "2min", _("A few sentences (up to 3 minutes)")
    FIVE_MIN = "5min", _("3 to 7 minutes")
    TEN_MIN = "10min", _("Over 7 minutes")


class Script(models.Model):
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, related_name="scripts", verbose_name=_("language")
    )
    text = models.TextField(_("text"))
    sentences = models.JSONField(
        _("sentences"), default=list, help_text=_("The text split into sentences")
    )
    estimated_seconds = models.FloatField(_("estimated seconds"))
    length_bucket = models.CharField(_("length"), max_length=8, choices=LengthBucket.choices)
    source = models.CharField(_("source"), max_length=300, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Kept in step by recording_create so "fewest recordings first" is an index
    # scan, not a COUNT over all recordings.
    recording_count = models.PositiveIntegerField(_("recordings"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("script")
        verbose_name_plural = _("scripts")
        indexes = [
            models.Index(
                fields=["language", "length_bucket", "recording_count", "id"],
                condition=models.Q(active=True),
                name="script_next_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.language.code}#{self.pk}: {self.text[:40]}"


class ScriptReportReason(models.TextChoices):
    TYPO = "typo", _("A typo or a grammar mistake")
    OFFENSIVE = "offensive", _("Offensive or inappropriate")
    WRONG_LANGUAGE = "wrong_language", _("Not in this language")
    HARD_TO_READ = "hard_to_read", _("Hard to read aloud")


class ScriptReport(models.Model):
    """A reader's report that a script should not be read as it is.

    One per reader and script: a script is withdrawn once
    ``SCRIPT_REPORTS_TO_WITHDRAW`` different readers have reported it
    (``script_report``); admins see the open reports as a queue and close them.
    """

    script = models.ForeignKey(
        Script, on_delete=models.CASCADE, related_name="reports", verbose_name=_("script")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="script_reports",
        verbose_name=_("reporter"),
    )
    reason = models.CharField(_("reason"), max_length=16, choices=ScriptReportReason.choices)
    # The sentence the reader had highlighted, when they pointed at one.
    sentence_index = models.PositiveSmallIntegerField(_("sentence"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)
    # Set when an admin has dealt with the report (restored or kept the script out).
    resolved_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("script report")
        verbose_name_plural = _("script reports")
        constraints = [
            models.UniqueConstraint(fields=["script", "reporter"], name="script_report_once"),
        ]
        indexes = [
            # The admin queue: open reports, newest first.
            models.Index(
                fields=["-created_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="script_report_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.script_id}: {self.reason}"


class RecordingStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    PROCESSING = "processing", _("Processing")
    CHUNKED = "chunked", _("Chunked")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")


class Recording(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contributor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recordings"
    )
    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="recordings")
    audio = models.FileField(max_length=255, blank=True)
    container = models.CharField(max_length=40, blank=True)
    codec = models.CharField(max_length=40, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    duration = models.FloatField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=RecordingStatus.choices, default=RecordingStatus.UPLOADED
    )
    level_dbfs = models.FloatField(null=True, blank=True)
    peak_dbfs = models.FloatField(null=True, blank=True)
    clipping_ratio = models.FloatField(null=True, blank=True)
    speech_ratio = models.FloatField(null=True, blank=True)
    snr_db = models.FloatField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)
    # The same reason as a message and its values, so the contributor reads it
    # in their language: {"message": English with {slots}, "params": {...}}.
    # A database default too: processes of the previous release, still running
    # while a deployment migrates, insert recordings without this column.
    rejection = models.JSONField(default=dict, db_default={}, blank=True)
    error = models.TextField(blank=True)
    processing_attempts = models.PositiveSmallIntegerField(default=0)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        indexes = [
            models.Index(fields=["contributor", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
        ]
        constraints = [
            # The same bytes from the same contributor for the same script are
            # always a retry (a new reading never hashes the same): concurrent
            # copies of one upload make one recording (recording_create).
            # Rejected recordings are left out so that copies made before this
            # constraint existed could be set aside (migration 0004).
            models.UniqueConstraint(
                fields=["contributor", "script", "sha256"],
                condition=~models.Q(status="rejected"),
                name="recording_unique_reading",
            ),
        ]

    def __str__(self) -> str:
        return f"Recording {self.pk} ({self.status})"


class ChunkStatus(models.TextChoices):
    OPEN = "open", _("Open")
    VALIDATED = "validated", _("Validated")
    # The crowd settled on a text below the validated bar: kept with its
    # per-word confidence, exported only when a researcher asks for it.
    ACCEPTED = "accepted", _("Accepted by the crowd")
    NEEDS_REVIEW = "needs_review", _("Needs review")
    REJECTED = "rejected", _("Rejected")


class TaskMode(models.TextChoices):
    """What a volunteer is asked about a chunk."""

    TRANSCRIBE = "transcribe", _("Transcribe")
    VERIFY = "verify", _("Verify")


class Chunk(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="chunks")
    # Denormalised from the recording so that task assignment filters one table.
    language = models.ForeignKey(Language, on_delete=models.PROTECT, related_name="chunks")
    contributor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recorded_chunks"
    )
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    duration = models.FloatField()
    audio = models.FileField(max_length=255)
    expected_text = models.TextField(blank=True)
    expected_sentence_index = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.OPEN)
    transcriptions_required = models.PositiveSmallIntegerField(default=2)
    transcriptions_received = models.PositiveSmallIntegerField(default=0)
    consensus_text = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    word_confidence = models.JSONField(default=list, blank=True)
    # What the next volunteer is asked: to vote on the script sentence while
    # nobody has contradicted it, else to type what they hear. Set when the
    # chunk is cut and by every decision. Database defaults too: processes of
    # the previous release, still running while a deployment migrates, insert
    # chunks without these columns.
    task_mode = models.CharField(
        max_length=10,
        choices=TaskMode.choices,
        default=TaskMode.TRANSCRIBE,
        db_default=TaskMode.TRANSCRIBE,
    )
    # Expected wrong words a review would remove (from the last decision):
    # the review queue serves the largest first.
    review_gain = models.FloatField(default=0.0, db_default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["recording", "index"]
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        constraints = [
            models.UniqueConstraint(fields=["recording", "index"], name="chunk_unique_index"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="chunk_end_after_start"
            ),
        ]
        indexes = [
            # Assignment: open chunks of a language, fewest transcriptions, oldest first.
            models.Index(
                fields=["language", "transcriptions_received", "created_at"],
                condition=models.Q(status="open"),
                name="chunk_assign_idx",
            ),
            models.Index(fields=["status", "language"]),
            # The review queue and the crowd-accepted tier reviewers promote
            # from: the chunks where a review removes most wrong words first.
            # Without it every page of either would sort all of them.
            models.Index(
                fields=["status", "-review_gain", "created_at"],
                condition=models.Q(status__in=["needs_review", "accepted"]),
                name="chunk_review_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Chunk {self.recording_id}#{self.index}"
