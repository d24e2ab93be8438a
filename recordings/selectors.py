"""Reads for the recording side: languages, the next script, visible recordings."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from recordings.models import Chunk, Language, Recording, Script
from shrutik.permissions import REVIEWER, user_has_role


def language_list_active() -> QuerySet[Language]:
    return Language.objects.filter(active=True)


def script_next(*, user, language: Language, length: str | None) -> Script | None:
    """A script ``user`` has not recorded, preferring the least-recorded ones.

    Ties are broken by id so every reader does not get the same script at once
    when many are equally fresh: the caller passes a user-dependent offset.
    """
    recorded = Recording.objects.filter(contributor=user, script=OuterRef("pk"))
    qs = Script.objects.filter(language=language, active=True).exclude(Exists(recorded))
    if length:
        qs = qs.filter(length_bucket=length)
    return qs.order_by("recording_count", "id").first()


def recording_list_visible(*, user) -> QuerySet[Recording]:
    qs = Recording.objects.select_related("script__language")
    if user_has_role(user, REVIEWER):
        return qs
    return qs.filter(contributor=user)


def chunk_list_for_recording(*, recording: Recording) -> QuerySet[Chunk]:
    return recording.chunks.order_by("index")
