from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from recordings.models import Chunk


class DecidedBy(models.TextChoices):
    AUTO = "auto", _("Consensus engine")
    REVIEWER = "reviewer", _("Reviewer")


class ConsensusDecision(models.Model):
    """One decision about a chunk; the newest is in force, the rest is history."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=16)
    text = models.TextField(blank=True)
    normalized_text = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    word_confidence = models.JSONField(default=list, blank=True)
    estimated_wer = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    audit = models.BooleanField(default=False)
    transcription_count = models.PositiveSmallIntegerField(default=0)
    method_version = models.CharField(max_length=40)
    decided_by = models.CharField(max_length=10, choices=DecidedBy.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("consensus decision")
        verbose_name_plural = _("consensus decisions")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["chunk", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.chunk_id}: {self.outcome} by {self.decided_by}"


def chunk_name(chunk: Chunk) -> str:
    """A chunk as reviewers name it: by script and sentence, not by ids.

    A clip that matched no script sentence (the reader added something) is
    named by its place in the recording. Reads ``chunk.recording``: select it.
    """
    script = chunk.recording.script_id
    if chunk.expected_sentence_index is not None:
        return gettext("Script %(script)s, sentence %(sentence)s") % {
            "script": script,
            "sentence": chunk.expected_sentence_index + 1,
        }
    return gettext("Script %(script)s, part %(part)s") % {"script": script, "part": chunk.index + 1}


class ReviewChunk(Chunk):
    """Chunks as reviewers see them in the admin review queue."""

    class Meta:
        proxy = True
        verbose_name = _("chunk to review")
        verbose_name_plural = _("review queue")

    def __str__(self) -> str:
        return chunk_name(self)


class StoppingThreshold(models.Model):
    """The engine's stopping threshold for one language (expected wrong words at
    which an unvalidated chunk stops asking for transcripts). Moved after every
    finished chunk so the mean transcripts per chunk hold the configured budget
    (``engine.budget_threshold``)."""

    language = models.CharField(max_length=35, unique=True)
    value = models.FloatField()
    # Finished chunks that have moved it.
    chunks = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stopping threshold")
        verbose_name_plural = _("stopping thresholds")

    def __str__(self) -> str:
        return f"{self.language}: stop at {self.value:.2f} expected wrong words"
