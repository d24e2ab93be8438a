from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class AgeRange(models.TextChoices):
    UNDER_19 = "teens", _("Under 19")
    TWENTIES = "twenties", _("19–29")
    THIRTIES = "thirties", _("30–39")
    FORTIES = "fourties", _("40–49")
    FIFTIES = "fifties", _("50–59")
    SIXTIES = "sixties", _("60–69")
    SEVENTIES_PLUS = "seventies", _("70 or older")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Another gender")
    UNDISCLOSED = "undisclosed", _("Prefer not to say")


def new_speaker_id() -> str:
    return uuid.uuid4().hex


# What a contributor tells the platform about themselves and may change: the
# profile page, the API and "download my data" all read this one list.
PROFILE_FIELDS = (
    "display_name",
    "email",
    "age_range",
    "gender",
    "native_language",
    "dialect",
    "show_on_leaderboard",
)


class User(AbstractUser):
    """A contributor, reviewer, researcher or admin.

    ``speaker_id`` is the only identity that leaves the platform (hashed again in
    exports); it is random and never derived from the username, email or id.
    Age range and gender use Common Voice's vocabulary so exports map 1:1.
    """

    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    speaker_id = models.CharField(
        max_length=32, unique=True, default=new_speaker_id, editable=False
    )
    age_range = models.CharField(max_length=16, choices=AgeRange.choices, blank=True)
    gender = models.CharField(max_length=16, choices=Gender.choices, blank=True)
    # A language code (BCP-47, e.g. "bn"); the forms offer it as a list of names.
    native_language = models.CharField(_("native language"), max_length=35, blank=True)
    dialect = models.CharField(_("dialect or region"), max_length=100, blank=True)
    consent_version = models.CharField(max_length=32, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    show_on_leaderboard = models.BooleanField(default=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Consent is recorded as a pair: a version without a time (or the
            # reverse) would make "did they agree, and to what?" unanswerable.
            models.CheckConstraint(
                condition=(
                    models.Q(consent_version="", consent_at__isnull=True)
                    | (~models.Q(consent_version="") & models.Q(consent_at__isnull=False))
                ),
                name="consent_version_and_time_together",
            ),
            # "Rina" and "rina" are one person to everyone reading a leaderboard
            # or an admin page; the registration check alone loses races.
            models.UniqueConstraint(
                Lower("username"),
                name="username_unique_ignoring_case",
                violation_error_message=_("This username is taken."),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def has_consented(self) -> bool:
        return bool(self.consent_at) and self.erased_at is None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def is_blocked(self) -> bool:
        """Deactivated by an admin (an erased account is inactive too, but its
        past work still counts)."""
        return not self.is_active and self.erased_at is None


def blocked_user_ids(user_ids) -> set[int]:
    """The contributors among ``user_ids`` an admin has blocked: their
    transcriptions no longer count in any decision."""
    return set(
        User.objects.filter(pk__in=user_ids, is_active=False, erased_at__isnull=True).values_list(
            "pk", flat=True
        )
    )


class ReliabilityScore(models.Model):
    """How reliably a contributor transcribes one language: Beta(alpha, beta) over
    their word accuracy, maintained by the consensus engine (leave-one-out); and,
    apart, how often their yes/no on a script sentence is right (listening is
    another skill than typing) and how often what they recorded is the script
    as written (reading)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reliability")
    language = models.CharField(max_length=35)
    alpha = models.FloatField()
    beta = models.FloatField()
    chunks = models.PositiveIntegerField(default=0)
    # Beta(listen_alpha, listen_beta) over their votes' accuracy; empty: the
    # listener prior (they have not voted on a decided chunk yet).
    listen_alpha = models.FloatField(null=True, blank=True)
    listen_beta = models.FloatField(null=True, blank=True)
    # Decided chunks whose vote taught it.
    listen_votes = models.PositiveIntegerField(default=0, db_default=0)
    # Beta(read_alpha, read_beta) over how often their recorded chunks say
    # their script sentence as written; empty: a new reader (the script prior).
    read_alpha = models.FloatField(null=True, blank=True)
    read_beta = models.FloatField(null=True, blank=True)
    # Finished chunks of theirs that taught it.
    readings = models.PositiveIntegerField(default=0, db_default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reliability score")
        verbose_name_plural = _("reliability scores")
        constraints = [
            models.UniqueConstraint(fields=["user", "language"], name="reliability_per_language"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.language}: {self.accuracy:.3f}"

    @property
    def accuracy(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def read_accuracy(self) -> float | None:
        """How often their chunks say their sentence; None before a chunk taught it."""
        if self.read_alpha is None or self.read_beta is None:
            return None
        return self.read_alpha / (self.read_alpha + self.read_beta)

    @property
    def listen_accuracy(self) -> float | None:
        """How often their votes are right; None before any vote taught it."""
        if self.listen_alpha is None or self.listen_beta is None:
            return None
        return self.listen_alpha / (self.listen_alpha + self.listen_beta)
