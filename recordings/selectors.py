"""Reads for the recording side: languages, the next script, visible recordings."""

from __future__ import annotations

import time

from django.db.models import Exists, OuterRef, QuerySet

from recordings.models import Chunk, Language, Recording, Script
from shrutik.permissions import REVIEWER, user_has_role


def language_list_active() -> QuerySet[Language]:
    return Language.objects.filter(active=True)


_LANGUAGE_TTL = 30.0
_language_cache: tuple[float, dict[str, Language]] = (0.0, {})


def language_active_by_code(code: str) -> Language | None:
    """Active language by code, from a per-process cache refreshed every 30 s.

    Hot endpoints (task leasing) name the language on every request; the table
    is tiny and changes rarely, so a short-lived copy saves a query each time.
    """
    global _language_cache
    loaded_at, by_code = _language_cache
    if time.monotonic() - loaded_at > _LANGUAGE_TTL:
        by_code = {lang.code: lang for lang in Language.objects.filter(active=True)}
        _language_cache = (time.monotonic(), by_code)
    return by_code.get(code)


def language_pick(languages: list[Language], *codes: str | None) -> Language | None:
    """The first of ``codes`` that names one of ``languages`` (say the one asked
    for, the user's native language, the interface's), else the first language."""
    by_code = {lang.code: lang for lang in languages}
    for code in codes:
        if code in by_code:
            return by_code[code]
    return languages[0] if languages else None


def language_cache_clear() -> None:
    global _language_cache
    _language_cache = (0.0, {})


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
