"""Reads: which exports a user may see, and which chunks an export contains."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, QuerySet, Sum, TextField, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from campaigns.selectors import campaign_chunks
from exports.models import AccessRequest, Export, ExportStatus
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


def export_delta_bases(*, user, limit: int = 50) -> QuerySet[Export]:
    """The exports a delta of this user may follow: finished, with a membership index."""
    visible = export_list_visible(user=user).filter(status=ExportStatus.DONE, indexed=True)
    return visible.order_by("-created_at")[:limit]


def access_request_latest(*, user) -> AccessRequest | None:
    """The user's newest request for researcher access, if any."""
    return AccessRequest.objects.filter(user=user).first()


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
    if filters.get("campaign"):
        qs = qs.filter(campaign_chunks(campaign_id=filters["campaign"]))
    return qs


def keyset_pages(qs, *, size: int, fields: tuple[str, ...]):
    """Rows of ``qs`` (``fields``, which include ``id``) in pages of ``size``, by
    primary key: each page is a short, indexed query (no long-lived cursor or
    transaction), and the order is stable across runs."""
    last = None
    while True:
        page = qs.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values(*fields)[:size])
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def export_preview(*, filters: dict) -> dict:
    """What an export with these filters would hold now, before it is asked for:
    clips, hours and speakers, in all and per language. One aggregate query over
    the same chunks a build reads (clips a build may still leave out, such as a
    sentence read in another split, are counted)."""
    qs = export_chunks(filters=filters, snapshot=timezone.now())
    rows = qs.values("language__code").annotate(
        clips=Count("id"), seconds=Sum("duration"), speakers=Count("contributor", distinct=True)
    )
    languages = {
        row["language__code"]: _figures(row["clips"], row["seconds"], row["speakers"])
        for row in rows.order_by("language__code")
    }
    # A speaker of two languages counts once in all.
    speakers = qs.aggregate(n=Count("contributor", distinct=True))["n"] if languages else 0
    return {
        **_figures(
            sum(f["clips"] for f in languages.values()),
            sum(f["seconds"] for f in languages.values()),
            speakers,
        ),
        "languages": languages,
    }


def _figures(clips: int, seconds: float | None, speakers: int) -> dict:
    seconds = seconds or 0.0
    return {
        "clips": clips,
        "seconds": round(seconds, 3),
        "hours": round(seconds / 3600, 4),
        "speakers": speakers,
    }
