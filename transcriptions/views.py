"""The Contribute page: the server picks each task (listen and vote, or listen and
type); the work happens in static/js/contribute.js."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from recordings.selectors import language_list_active, language_pick
from transcriptions.models import Flag

# The flags a transcriber can tick, with their keyboard shortcut (the letter, or
# Alt+letter while typing).
PAGE_FLAGS = (
    (Flag.NOISE, "N"),
    (Flag.UNINTELLIGIBLE, "U"),
    (Flag.WRONG_LANGUAGE, "W"),
)

# Characters that are hard to reach on most Bangla phone keyboards, per language.
HELPER_CHARACTERS = {
    "bn": [*"ৎংঃঁ\u09bc্ািীুূৃেৈোৌ", "য়", "ড়", "ঢ়", "।"],
}


def _with_carrier(ch: str) -> str:
    """A vowel sign or mark drawn on a dotted circle, the way keyboards show it."""
    return f"\u25cc{ch}" if unicodedata.category(ch[0]) in {"Mn", "Mc"} else ch


@login_required
@require_GET
def contribute(request):
    languages = list(language_list_active())
    chosen = language_pick(
        languages, request.GET.get("language"), request.user.native_language, request.LANGUAGE_CODE
    )
    language = chosen.code if chosen else ""
    return render(
        request,
        "transcriptions/contribute.html",
        {
            "languages": languages,
            "language": language,
            "flags": [(flag.value, flag.label, key) for flag, key in PAGE_FLAGS],
            # A report takes any flag: a listener who only votes has no other way
            # to say the audio is offensive or empty.
            "report_reasons": Flag.choices,
            "helper_characters": [
                (ch, _with_carrier(ch)) for ch in HELPER_CHARACTERS.get(language, [])
            ],
            "lease_seconds": settings.LEASE_SECONDS,
            "strings": ui_strings(),
        },
    )


def ui_strings() -> dict[str, str]:
    """Messages contribute.js shows, translated here so JS needs no catalogue of its own."""
    return {
        "loading": _("Fetching clips…"),
        "empty": _(
            "There is nothing left to do in this language right now. Thank you! Come back later."
        ),
        "offline": _("Could not reach the server. Check your connection; trying again shortly…"),
        "consent": _(
            "Please accept the contributor agreement on your profile before contributing."
        ),
        "error": _("Something went wrong: {detail}"),
        "expired": _("Time ran out for that clip; here is the next one."),
        "need_text": _("Type what you hear, or tick a flag if the audio cannot be transcribed."),
        "saved": _("Saved. Next clip."),
        "skipped": _("Skipped."),
        "reported": _("Thank you for the report. Next clip."),
        "send_failed": _("Could not send your answer. Check your connection and try again."),
        "done_count": _("Done in this session: {count}"),
        "slower_on": _("Slower: on"),
        "slower_off": _("Slower: off"),
        "play": _("Play"),
        "pause": _("Pause"),
        "play_blocked": _("Press Play to listen."),
        "verify_title": _("Listen and vote"),
        "transcribe_title": _("Listen and type"),
    }
