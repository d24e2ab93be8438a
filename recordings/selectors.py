"""Reads for the recording side: languages, the next script, visible recordings."""

from __future__ import annotations

import time

from django.db.models import Exists, OuterRef, QuerySet

from recordings.models import Chunk, Language, Recording, RecordingStatus, Script, ScriptReport
from recordings.signals import script_preference
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


def _left_for(user, scripts: QuerySet[Script]) -> QuerySet[Script]:
    """``scripts`` without those ``user`` has recorded or reported. A rejected
    reading does not count as recorded: the reader may record the script again."""
    recorded = Recording.objects.filter(contributor=user, script=OuterRef("pk")).exclude(
        status=RecordingStatus.REJECTED
    )
    reported = ScriptReport.objects.filter(reporter=user, script=OuterRef("pk"))
    return scripts.exclude(Exists(recorded)).exclude(Exists(reported))


def script_next(*, user, language: Language, length: str | None) -> Script | None:
    """A script ``user`` has not recorded, preferring the least-recorded ones.

    Ties are broken by id so every reader does not get the same script at once
    when many are equally fresh: the caller passes a user-dependent offset.
    """
    qs = _left_for(user, Script.objects.filter(language=language, active=True))
    if length:
        qs = qs.filter(length_bucket=length)
    # An app above may ask for some scripts first (a campaign the reader joined);
    # once those are read, the others follow as usual.
    for _receiver, preferred in script_preference.send(sender=Script, user=user, language=language):
        if preferred is not None:
            script = qs.filter(preferred).order_by("recording_count", "id").first()
            if script is not None:
                return script
    return qs.order_by("recording_count", "id").first()


def script_for_reader(*, user, script_id, language: Language | None = None) -> Script | None:
    """Script ``script_id`` if ``user`` may read it now: active, in ``language``
    when given, not reported by them, and not already recorded (a rejected
    reading does not count). For "record this script again"."""
    qs = Script.objects.filter(pk=script_id, active=True, language__active=True)
    if language is not None:
        qs = qs.filter(language=language)
    return _left_for(user, qs).select_related("language").first()


def script_bucket_has_scripts(*, language: Language, length: str) -> bool:
    """Whether any active script of ``language`` is in length bucket ``length``."""
    return Script.objects.filter(language=language, active=True, length_bucket=length).exists()


def recording_list_visible(*, user) -> QuerySet[Recording]:
    qs = Recording.objects.select_related("script__language")
    if user_has_role(user, REVIEWER):
        return qs
    return qs.filter(contributor=user)


def chunk_list_for_recording(*, recording: Recording) -> QuerySet[Chunk]:
    return recording.chunks.order_by("index")
