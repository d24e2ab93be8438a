"""Script text: sentence splitting and reading-time estimates.

Framework-free so the segmenter, the Script model and the benches share one
definition of "a sentence" and of "how long it takes to read".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CHARS_PER_SECOND",
    "DEFAULT_CHARS_PER_SECOND",
    "PAUSE_BETWEEN_SENTENCES",
    "ScriptEstimate",
    "chars_per_second",
    "estimate_script",
    "estimate_seconds",
    "length_bucket",
    "pause_marks",
    "pause_positions",
    "speech_length",
    "split_sentences",
]

# Sentence terminators across scripts: Latin . ? !, Devanagari/Bangla danda and
# double danda, Arabic/Urdu question mark and full stop, CJK and full-width
# forms, Ethiopic, Myanmar, Armenian, and the interrobang family.
_TERMINATORS = ".?!।॥؟۔。！？．‼⁇⁈⁉።፧။։…"
# Closing marks that belong to the sentence they follow: `He said "Go."`
_CLOSERS = "\"'”’»)]}›」』）"
# Marks inside a sentence where readers usually pause (commas, semicolons...).
_PAUSE_MARKS = ",;:—–،؛、，；："

# Abbreviations whose trailing dot does not end a sentence, compared with their
# case and without the dot. Only titles and labels that are followed by a name
# or a number: "etc." or "p.m." usually end a sentence when a capital follows,
# and a following lower-case word is handled by ``_ends_sentence`` anyway.
_ABBREVIATIONS = frozenset(
    {
        # English
        "Dr", "Mr", "Mrs", "Ms", "Prof", "Sr", "Jr", "St", "Mt", "Gen", "Col", "Lt",
        "Sgt", "Capt", "Rev", "Hon", "Fig", "No", "Nos", "vs", "e.g", "i.e", "cf",
        # Spanish / Portuguese / French
        "Sra", "Srta", "Dra", "Ud", "Uds", "Sres", "Mme", "Mlle", "Av",
        # Bangla (ডাক্তার, ডক্টর, মোহাম্মদ, মোসাম্মৎ) and Hindi (डॉक्टर, श्रीमती)
        "ডা", "ড", "মো", "মোসা", "মোছা", "डॉ", "श्रीमती",
    }
)  # fmt: skip

# Characters per second of *speech length* (see ``speech_length``) for an
# average careful reader, used before a reader's own rate is known. Measured
# over the sentence spans of ../shared/data/speech (synthetic voices): bn 11.3
# and 14.0, en 16.4; rounded down a little, because volunteers reading a script
# for the first time are slower than a TTS voice.
CHARS_PER_SECOND: dict[str, float] = {
    "bn": 12.0,
    "hi": 12.0,
    "en": 15.0,
    "es": 15.0,
    "fr": 15.0,
    "de": 14.0,
    "ar": 12.0,
    "ur": 12.0,
}
DEFAULT_CHARS_PER_SECOND = 13.0
# Typical silence a reader leaves between sentences, added to the total.
PAUSE_BETWEEN_SENTENCES = 0.6


def _language_key(language: str | None) -> str:
    return (language or "").lower().replace("_", "-").split("-")[0]


def _ends_sentence(text: str, i: int) -> bool:
    """Whether the terminator at ``text[i]`` ends a sentence."""
    ch = text[i]
    if ch != "." and ch != "…":
        return True
    nxt = text[i + 1] if i + 1 < len(text) else ""
    prev = text[i - 1] if i > 0 else ""
    if ch == ".":
        if nxt == ".":
            return False  # first dots of "..."; the last one decides
        if prev.isdigit() and nxt.isdigit():
            return False  # decimal 3.14 / ৩.১৪
        if nxt and not nxt.isspace() and nxt not in _CLOSERS:
            return False  # "e.g", "U.S", "www.example": no space after the dot
        word = re.search(r"([^\s(\[\"'“‘]+)$", text[:i])
        token = word.group(1) if word else ""
        if token.rstrip(".") in _ABBREVIATIONS:
            return False
        if len(token) == 1 and token.isalpha() and token.isupper():
            return False  # an initial: "J. K. Rowling"
    # After the dot(s) and any closing marks, a lower-case continuation means
    # the dot was an abbreviation or an ellipsis inside the sentence.
    rest = text[i + 1 :].lstrip(_CLOSERS + "." + "…").lstrip()
    return not (rest and rest[0].islower())


def split_sentences(text: str) -> list[str]:
    """Split a script into sentences, keeping each sentence's punctuation.

    Breaks after terminators (``। ॥ . ? ! ؟ ۔ 。`` and friends) and at line
    breaks (scripts are entered one sentence or paragraph per line), but not
    inside decimals, after known abbreviations ("Dr.", "ডা.") or initials.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        i = 0
        while i < len(line):
            if line[i] in _TERMINATORS and _ends_sentence(line, i):
                end = i + 1
                while end < len(line) and (line[end] in _CLOSERS or line[end] in _TERMINATORS):
                    end += 1
                sentence = line[start:end].strip()
                if sentence:
                    sentences.append(sentence)
                start = i = end
                continue
            i += 1
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    # A fragment of punctuation only (e.g. a stray "--") is not a sentence.
    return [s for s in sentences if speech_length(s) > 0]


def speech_length(sentence: str) -> int:
    """Length that predicts reading time: letters, marks and digits plus word gaps.

    Punctuation is not spoken; viramas (Bangla hasanta, Devanagari halant) only
    join consonants, so they are not counted either.
    """
    count = 0
    for ch in sentence:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or (cat[0] == "M" and unicodedata.combining(ch) != 9):
            count += 1
    # Words by whitespace: ``\w`` would split Bangla words at their vowel signs.
    words = sum(1 for token in sentence.split() if any(c.isalnum() for c in token))
    return count + max(0, words - 1) if count else 0


def pause_marks(sentence: str) -> int:
    """How many in-sentence pauses the punctuation invites (commas, semicolons...)."""
    return len(pause_positions(sentence))


def pause_positions(sentence: str) -> list[float]:
    """Where the in-sentence pause marks fall, as fractions of ``speech_length``.

    A reader who pauses at a comma does so about this far through the
    sentence's speaking time, which tells a comma pause from a sentence break.
    """
    body = sentence.rstrip(_TERMINATORS + _CLOSERS + " ")
    total = speech_length(body)
    if total == 0:
        return []
    positions = []
    for i, ch in enumerate(body):
        if ch in _PAUSE_MARKS and 0 < (before := speech_length(body[:i])) < total:
            positions.append(before / total)
    return positions


def chars_per_second(language: str | None) -> float:
    return CHARS_PER_SECOND.get(_language_key(language), DEFAULT_CHARS_PER_SECOND)


def estimate_seconds(sentence: str, language: str | None = None) -> float:
    """Expected speaking time of one sentence (excluding the pause after it)."""
    # Each comma costs a short breath; 0.25 s is what the shared data shows.
    return speech_length(sentence) / chars_per_second(language) + 0.25 * pause_marks(sentence)


def length_bucket(total_seconds: float, sentence_count: int) -> str:
    """Bucket a script for contributors choosing how long they want to read.

    ``single`` is one sentence; otherwise the nearest of 2, 5 and 10 minutes on
    a log scale (boundaries at ~3.2 and ~7.1 minutes).
    """
    if sentence_count <= 1:
        return "single"
    minutes = total_seconds / 60.0
    if minutes < (2 * 5) ** 0.5:
        return "2min"
    if minutes < (5 * 10) ** 0.5:
        return "5min"
    return "10min"


@dataclass(frozen=True)
class ScriptEstimate:
    sentences: list[str]
    seconds: list[float]  # speaking time per sentence
    total_seconds: float  # whole reading, pauses between sentences included
    bucket: str


def estimate_script(text: str | Sequence[str], language: str | None = None) -> ScriptEstimate:
    """Split (unless given sentences) and estimate the reading time of a script."""
    sentences = split_sentences(text) if isinstance(text, str) else list(text)
    seconds = [estimate_seconds(s, language) for s in sentences]
    total = sum(seconds) + PAUSE_BETWEEN_SENTENCES * max(0, len(sentences) - 1)
    return ScriptEstimate(
        sentences=sentences,
        seconds=seconds,
        total_seconds=total,
        bucket=length_bucket(total, len(sentences)),
    )
