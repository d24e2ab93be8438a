"""Text normalisation for comparing transcripts (never for storing them).

One fixed pipeline is applied to every side of every comparison — transcripts,
script sentences and, in evaluation, references — because some steps are not
idempotent across encodings on their own: NFC *decomposes* the precomposed
nukta letters ড় ঢ় য় (U+09DC, U+09DD, U+09DF are composition exclusions), so a
text normalised by any other route would not compare equal.

Order matters:
1. NFC, so that canonically equivalent spellings (ো typed as ে + া) agree.
2. Legacy khanda-ta ত + ্ + ZWJ becomes ৎ *before* joiners are dropped;
   otherwise the ZWJ would vanish and leave a conjunct-forming ত্ behind.
3. Other format characters (ZWJ, ZWNJ, zero-width space, soft hyphen, BOM)
   are dropped: they change rendering, not the word a listener heard.
4. Every decimal digit (Bengali ০–৯, Devanagari, Arabic-Indic, full-width...)
   becomes ASCII; NFKC does not do this for Bengali digits.
5. Punctuation by Unicode category P* (the `regex` module's ``\\p{P}``):
   apostrophes inside words are deleted (``he's`` → ``hes``), everything else
   (danda ।, ॥, commas, dashes, quotes) becomes a word break. The stdlib class
   ``[^\\w\\s]`` must not be used: it treats Bengali vowel signs (Mc/Mn) and
   hasanta as non-word characters and would strip them.
6. Case folding (affects Latin and other cased scripts only).
7. Whitespace collapsed; tokens are the space-separated words.
"""

from __future__ import annotations

import re
import unicodedata

import regex

_KHANDA_TA_LEGACY = "\u09a4\u09cd\u200d"  # ত ্ ZWJ
_KHANDA_TA = "\u09ce"  # ৎ

# Apostrophes (all three are category P) join the two halves of a
# contraction or elision instead of splitting it.
_APOSTROPHES = "'\u2018\u2019"
# Apostrophes are deleted first, then every other run of punctuation becomes
# a space: two C-level passes, no Python callback per match.
_APOSTROPHE_RE = regex.compile(f"[{_APOSTROPHES}]+")
_PUNCT_RE = regex.compile(r"\p{P}+")
# Format characters and non-ASCII decimal digits (Bengali ০–৯, Devanagari,
# Arabic-Indic, full-width...), replaced match by match: a few per text at
# most, and the Unicode database gives each digit's value, so new scripts
# need no table.
_SPECIAL_RE = regex.compile(r"[\p{Cf}\p{Nd}--[0-9]]", flags=regex.VERSION1)


def _special_replacement(match: regex.Match[str]) -> str:
    char = match.group()
    return "" if unicodedata.category(char) == "Cf" else str(unicodedata.decimal(char))


def _ascii_table() -> dict[int, str | None]:
    """The same pipeline restricted to ASCII, as one ``str.translate`` table.

    Most transcripts of Latin-script languages are pure ASCII; for them NFC,
    joiners and foreign digits are no-ops and the punctuation rule reduces to
    a table lookup, which is several times faster than the regex passes.
    """
    table: dict[int, str | None] = {}
    for code in range(128):
        char = chr(code)
        if char in _APOSTROPHES:
            table[code] = ""
        elif unicodedata.category(char).startswith("P"):
            table[code] = " "
    return table


_ASCII_TABLE = _ascii_table()


_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# English abbreviations spoken as the full word (the LibriSpeech convention).
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
# A whole token (tokens are separated by spaces, or by NUL inside
# tokenize_with_raw) that is an abbreviation or a number of up to four digits.
# Only ever applied to ASCII text, so the stdlib engine (about three times
# faster than ``regex`` for this search, which runs on every transcript)
# matches exactly the same.
_EQUIVALENT_RE = re.compile(r"(?<![^ \x00])(?:mrs?|dr|[0-9]{1,4})(?![^ \x00])")


def _below_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words.append(_ONES[n // 100] + " hundred")
        n %= 100
        if not n:
            return " ".join(words)
    if n < 20:
        words.append(_ONES[n])
    else:
        words.append(_TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10]))
    return " ".join(words)


def number_words(digits: str) -> str:
    """English words for a number of up to four digits, as people say them:
    ``7`` → seven, ``1872`` → eighteen seventy two, ``1900`` → nineteen
    hundred, ``2000`` → two thousand, ``1005`` → one thousand five. Leading
    zeros (``08`` in times) are read as a plain number."""
    n = int(digits)
    if n < 1000:
        return _below_thousand(n)
    high, low = divmod(n, 100)
    if n % 1000 == 0 or (0 < low < 10 and high % 10 == 0):
        rest = n % 1000
        head = _ONES[n // 1000] + " thousand"
        return head if not rest else head + " " + _below_thousand(rest)
    if low == 0:
        return _below_thousand(high) + " hundred"
    return _below_thousand(high) + " " + ("oh " + _ONES[low] if low < 10 else _below_thousand(low))


def _equivalent(match: re.Match[str]) -> str:
    token = match.group()
    return _ABBREVIATIONS.get(token) or number_words(token)


def _english_equivalents(normalised: str) -> str:
    """Spoken forms for written ones in Latin-script text: numbers as words
    and Mr/Mrs/Dr spelled out, because references and crowd workers write
    them either way. Applied only to text that is ASCII after normalisation,
    so Bangla text (whose digits become ASCII) keeps its digits."""
    if not normalised.isascii() or not _EQUIVALENT_RE.search(normalised):
        return normalised
    return _EQUIVALENT_RE.sub(_equivalent, normalised)


def normalize(text: str) -> str:
    """Return the comparison form of ``text``: a single-spaced string of tokens."""
    if text.isascii():
        return _english_equivalents(" ".join(text.translate(_ASCII_TABLE).lower().split()))
    return _normalize_unicode(text)


def _normalize_unicode(text: str) -> str:
    """The full pipeline; :func:`normalize` skips it for pure-ASCII text."""
    text = unicodedata.normalize("NFC", text)
    if _KHANDA_TA_LEGACY in text:
        text = text.replace(_KHANDA_TA_LEGACY, _KHANDA_TA)
    text = _SPECIAL_RE.sub(_special_replacement, text)
    text = _PUNCT_RE.sub(" ", _APOSTROPHE_RE.sub("", text))
    return _english_equivalents(" ".join(text.casefold().split()))


def tokenize(text: str) -> list[str]:
    """Normalised tokens of ``text``."""
    normalised = normalize(text)
    return normalised.split(" ") if normalised else []


def tokenize_with_raw(text: str) -> tuple[list[str], list[str]]:
    """Normalised tokens and, for each, the raw spelling it came from.

    A raw whitespace-separated word that normalises to exactly one token keeps
    its raw form (capitals, punctuation, original encoding) so the consensus
    can be rebuilt from what people typed. A raw word that splits into several
    tokens (``air-tight``) cannot give each part a raw form of its own, so its
    parts fall back to their normalised spelling.

    The raw words are joined with NUL (not whitespace, not punctuation, not a
    format character, so no step touches it) and normalised in one pass: one
    call per transcript instead of one per word keeps the engine fast, and the
    tokens are exactly those of :func:`tokenize` because no step of the
    pipeline acts across whitespace.
    """
    raw_words = text.split()
    if not raw_words:
        return [], []
    joined = normalize("\x00".join(raw_words)).replace(" \x00", "\x00").replace("\x00 ", "\x00")
    pieces = joined.split("\x00")
    if " " not in joined and all(pieces):
        # The common case: every raw word is exactly one token.
        return pieces, raw_words
    tokens: list[str] = []
    raws: list[str] = []
    for raw, piece in zip(raw_words, pieces, strict=True):
        parts = piece.split()
        if len(parts) == 1:
            tokens.append(parts[0])
            raws.append(raw)
        else:
            tokens.extend(parts)
            raws.extend(parts)
    return tokens, raws
