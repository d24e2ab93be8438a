"""How a recording sounds, in words (recordings.audio.quality.plain_quality's
bands): shown after an upload on the record page and on the reader's own
recording page, instead of dBFS and signal-to-noise figures."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LEVEL_LABEL = _("Loudness")
NOISE_LABEL = _("Background noise")
LEVEL_WORDS = {
    "quiet": _("Quiet: next time, hold the phone a little closer."),
    "good": _("Good"),
    "loud": _("Loud: next time, hold the phone a little further away."),
}
NOISE_WORDS = {
    "low": _("Little"),
    "some": _("Some"),
    "high": _("A lot: next time, find a quieter place."),
}


def quality_rows(quality: dict) -> list[tuple[str, str]]:
    """(label, words) for each band that was measured."""
    rows = []
    if quality.get("level"):
        rows.append((LEVEL_LABEL, LEVEL_WORDS[quality["level"]]))
    if quality.get("noise"):
        rows.append((NOISE_LABEL, NOISE_WORDS[quality["noise"]]))
    return rows
