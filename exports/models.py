from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ExportFormat(models.TextChoices):
    COMMONVOICE = "commonvoice", _("Common Voice (TSV + clips)")
    HUGGINGFACE = "huggingface", _("Hugging Face (parquet)")
    NEMO = "nemo", _("NeMo manifests")
    KALDI = "kaldi", _("Kaldi data directories")
    LHOTSE = "lhotse", _("Lhotse manifests")
    WEBDATASET = "webdataset", _("WebDataset tar shards")


class AudioFormat(models.TextChoices):
    FLAC = "flac", _("FLAC (lossless, as stored)")
    WAV = "wav", _("WAV (16-bit PCM)")
    MP3 = "mp3", _("MP3")
    OPUS = "opus", _("Opus (in Ogg)")


class Export(models.Model):
    """One requested dataset export and everything a researcher needs to fetch it.

    ``files`` lists the export's top-level files (manifests, shards, datasheet);
    the per-clip files are covered by ``SHA256SUMS`` and counted in ``stats``,
    so the row stays small whatever the export size.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exports"
    )
    version = models.CharField(max_length=64)
    filters = models.JSONField(default=dict, blank=True)
    formats = models.JSONField(default=list)
    audio_format = models.CharField(
        max_length=8, choices=AudioFormat.choices, default=AudioFormat.FLAC
    )
    sample_rate = models.PositiveIntegerField(default=16000)
    split_spec = models.JSONField(default=dict)
    # Audio processing and augmentation options (exports/processing.py); empty:
    # clips are copied (or only transcoded) as stored.
    processing = models.JSONField(default=dict, blank=True)
    # False: manifests and metadata only, no audio files (a metadata-only export).
    audio = models.BooleanField(default=True, db_default=True)
    # A delta export: only the clips added or changed since this export, and
    # the ids of those removed since (removed.tsv). It keeps the base's splits.
    since = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="deltas"
    )
    # The export's membership (every clip it holds, with a digest of what it
    # says) is stored apart (``index_key``) once planned: what a later delta is
    # measured against. Exports made before deltas existed have none.
    indexed = models.BooleanField(default=False, db_default=False)
    # The planning time of the running attempt: every batch reads the chunks as of then.
    snapshot_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    # Progress of the running attempt; ``step`` is a short human label.
    items_done = models.PositiveIntegerField(default=0)
    items_total = models.PositiveIntegerField(default=0)
    step = models.CharField(max_length=100, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=list, blank=True)
    total_bytes = models.BigIntegerField(default=0)
    prefix = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    # A fresh token per attempt: a superseded attempt (a redelivered message
    # while the first run is still alive) notices it no longer owns the export
    # at its next progress write and stops.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["requester", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
        ]

    def __str__(self) -> str:
        return f"Export {self.version} ({self.status})"

    @property
    def index_key(self) -> str:
        """Storage key of the membership index (outside ``prefix``: it is not
        part of what a researcher downloads)."""
        return f"export-index/{self.id}.tsv.gz"

    @property
    def percent(self) -> float:
        if self.status == ExportStatus.DONE:
            return 100.0
        if not self.items_total:
            return 0.0
        return round(100.0 * self.items_done / self.items_total, 1)


class SpeakerSplit(models.Model):
    """The split a speaker was put in, per split lineage (seed + ratios + mode).

    Kept so that a later export with more data leaves every earlier speaker in
    the split it had: train never gains a former test speaker. Keys are the
    exported (hashed) speaker ids, never user ids.
    """

    lineage = models.CharField(max_length=64)
    speaker = models.CharField(max_length=64)
    split = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("speaker split")
        verbose_name_plural = _("speaker splits")
        constraints = [
            models.UniqueConstraint(fields=["lineage", "speaker"], name="speaker_split_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.lineage[:8]}/{self.speaker[:8]} → {self.split}"


class ExportBatch(models.Model):
    """One slice of a processed export, by chunk primary key, built by its own task.

    Rows belong to the attempt that planned them (``token``); ``done`` and
    ``result`` (per-split counts, dropped clips, augmentation figures) are set
    once its clips are written. The last batch to finish queues the final step.
    """

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="batches")
    token = models.UUIDField()
    index = models.PositiveIntegerField()
    after_pk = models.UUIDField(null=True, blank=True)
    last_pk = models.UUIDField()
    rows = models.PositiveIntegerField()
    done = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("export batch")
        verbose_name_plural = _("export batches")
        ordering = ["export", "index"]
        constraints = [
            models.UniqueConstraint(fields=["export", "index"], name="export_batch_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.export_id} batch {self.index}"


class NoiseClip(models.Model):
    """A noise recording admins upload for additive-noise augmentation."""

    name = models.CharField(max_length=100)
    audio = models.FileField(upload_to="export-noise/")
    active = models.BooleanField(
        default=True, help_text=_("Offered to new exports that add noise from the noise set.")
    )
    duration = models.FloatField(default=0.0, editable=False)
    sample_rate = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("noise clip")
        verbose_name_plural = _("noise clips")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class AccessStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for an admin")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")


class AccessRequest(models.Model):
    """A request for the researcher role: who asks, for what, and the version of
    the data terms they accepted. An admin approves (which grants the role) or
    declines it; either way the requester is told by e-mail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests"
    )
    name = models.CharField(_("name"), max_length=150)
    institution = models.CharField(_("institution"), max_length=200)
    email = models.EmailField(_("e-mail"))
    purpose = models.TextField(_("purpose"), max_length=2000)
    terms_version = models.CharField(_("data terms version"), max_length=32)
    # The requester's interface language: the decision's e-mail is written in it.
    language = models.CharField(max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=AccessStatus.choices, default=AccessStatus.PENDING
    )
    note = models.TextField(
        _("note to the requester"),
        blank=True,
        help_text=_("Sent with the decision, e.g. why a request is declined."),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    class Meta:
        verbose_name = _("researcher access request")
        verbose_name_plural = _("researcher access requests")
        ordering = ["-created_at"]
        constraints = [
            # One open request per person: a second one is a double click or an
            # impatient resend, and admins should decide once.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="pending"),
                name="access_request_one_pending",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.institution})"
