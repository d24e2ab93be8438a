"""Extension points that higher apps fill in from ``AppConfig.ready()``.

Transcriptions sit below consensus in the dependency order, yet a stored
transcription needs consensus's text normaliser and must trigger a decision.
Consensus registers both here, so this app never imports it.
"""

from __future__ import annotations

from collections.abc import Callable

_normalizer: Callable[[str, str], str] | None = None
_submitted: list[Callable[[str], None]] = []


def register_normalizer(fn: Callable[[str, str], str]) -> None:
    global _normalizer
    _normalizer = fn


def normalize(text: str, language: str) -> str:
    if _normalizer is None:
        raise RuntimeError("No text normaliser registered: is the consensus app installed?")
    return _normalizer(text, language)


def on_chunk_transcribed(fn: Callable[[str], None]) -> None:
    """Call ``fn(chunk_id)`` after a transcription for the chunk is committed."""
    _submitted.append(fn)


def chunk_transcribed(chunk_id: str) -> None:
    for fn in _submitted:
        fn(chunk_id)
