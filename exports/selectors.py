"""Reads: which exports a user may see, and which chunks an export contains."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, NullIf

from exports.models import Export
from recordings.models import Chunk
from shrutik.permissions import RESEARCHER, user_has_role


def export_list_visible(*, user) -> QuerySet[Export]:
    """Admins (superusers) see every export; researchers their own; anyone else none."""
    qs = Export.objects.select_related("requester")
    if user.is_superuser:
        return qs
    if not user_has_role(user, RESEARCHER):
        return qs.none()
    return qs.filter(requester=user)


def export_chunks(*, filters: dict, snapshot: datetime) -> QuerySet[Chunk]:
    """Chunks matching an export's filters, as of ``snapshot``.

    Contributors who withdrew consent or erased their account are excluded here,
    at every read: a withdrawal during a running export takes effect at its next
    batch. ``snapshot`` keeps chunks changed after planning out of the export so
    that the planned split sizes stay an upper bound.
    """
    qs = (
        Chunk.objects.filter(
            contributor__consent_at__isnull=False,
            contributor__erased_at__isnull=True,
            updated_at__lte=snapshot,
            status__in=filters.get("statuses") or ["validated"],
        )
        .annotate(
            text=Coalesce(
                NullIf(F("consensus_text"), Value("")),
                F("expected_text"),
                output_field=TextField(),
            )
        )
        .exclude(text="")
    )
    if filters.get("languages"):
        qs = qs.filter(language__code__in=filters["languages"])
    if filters.get("min_confidence") is not None:
        qs = qs.filter(confidence__gte=filters["min_confidence"])
    if filters.get("date_from"):
        qs = qs.filter(recording__created_at__date__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(recording__created_at__date__lte=filters["date_to"])
    for field, key in (
        ("gender", "genders"),
        ("age_range", "age_ranges"),
        ("native_language", "native_languages"),
        ("dialect", "dialects"),
    ):
        if filters.get(key):
            qs = qs.filter(**{f"contributor__{field}__in": filters[key]})
    return qs
