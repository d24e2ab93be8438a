"""Script import: parse an uploaded file, validate each sentence, create Scripts.

Admins upload TSV, CSV or plain text. Every line that fails a rule is reported
with its line number and the reason, and nothing is imported until the file is
clean — a half-imported batch is harder to fix than a rejected one.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field

import regex

from recordings.audio import text as script_text
from recordings.models import Language, Script

MAX_IMPORT_BYTES = 10 * 1024 * 1024
_DIGIT = regex.compile(r"\p{Nd}")


@dataclass
class ImportReport:
    created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def sentence_problems(sentence: str, language: Language) -> list[str]:
    problems = []
    length = len(sentence)
    if length < language.min_sentence_chars:
        problems.append(f"too short ({length} characters, minimum {language.min_sentence_chars})")
    if length > language.max_sentence_chars:
        problems.append(f"too long ({length} characters, maximum {language.max_sentence_chars})")
    if not language.allow_digits and _DIGIT.search(sentence):
        problems.append("contains digits; spell numbers out as they should be read")
    bad = sorted({c for c in sentence if c in language.forbidden_chars})
    if bad:
        problems.append("contains forbidden characters: " + " ".join(bad))
    controls = {c for c in sentence if unicodedata.category(c) in {"Cc", "Co", "Cs"}}
    if controls:
        problems.append("contains control characters")
    return problems


def _rows(content: str, fmt: str) -> list[tuple[int, str]]:
    """(line number, text) for every non-empty entry of the file."""
    if fmt in {"tsv", "csv"}:
        reader = csv.reader(io.StringIO(content), delimiter="\t" if fmt == "tsv" else ",")
        rows = []
        for number, row in enumerate(reader, start=1):
            if number == 1 and row and row[0].strip().lower() in {"text", "sentence"}:
                continue  # header
            if row and row[0].strip():
                rows.append((number, row[0].strip()))
        return rows
    return [(n, line.strip()) for n, line in enumerate(content.splitlines(), 1) if line.strip()]


def scripts_import(
    *,
    language: Language,
    content: bytes,
    fmt: str,
    grouping: str = "sentence",
    source: str = "",
    licence: str = "",
) -> ImportReport:
    """Import scripts from a file.

    ``fmt``: ``tsv``/``csv`` (text in the first column) or ``txt``. ``grouping``:
    ``sentence`` makes one single-sentence script per entry; ``paragraph`` makes
    one script per entry (a paragraph of several sentences).
    """
    report = ImportReport()
    if len(content) > MAX_IMPORT_BYTES:
        report.errors.append((0, f"file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB"))
        return report
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.errors.append((0, f"not UTF-8 text (byte {exc.start})"))
        return report
    decoded = unicodedata.normalize("NFC", decoded)
    pending: list[Script] = []
    seen: set[str] = set()
    for number, entry in _rows(decoded, fmt):
        sentences = script_text.split_sentences(entry)
        if grouping == "sentence" and len(sentences) > 1:
            report.errors.append((number, f"holds {len(sentences)} sentences; put one per line"))
            continue
        problems = [
            f"sentence {i + 1}: {p}" if len(sentences) > 1 else p
            for i, s in enumerate(sentences)
            for p in sentence_problems(s, language)
        ]
        if not sentences:
            problems.append("no sentence found")
        if entry in seen:
            problems.append("duplicate of an earlier line")
        seen.add(entry)
        if problems:
            report.errors.extend((number, p) for p in problems)
            continue
        pending.append(
            script_build(
                language=language, text=entry, sentences=sentences, source=source, licence=licence
            )
        )
    existing = set(
        Script.objects.filter(language=language, text__in=[s.text for s in pending]).values_list(
            "text", flat=True
        )
    )
    for script in pending:
        if script.text in existing:
            line = next(n for n, e in _rows(decoded, fmt) if e == script.text)
            report.errors.append((line, "already imported"))
    if report.errors:
        return report
    Script.objects.bulk_create(pending, batch_size=1000)
    report.created = len(pending)
    return report


def script_build(
    *, language: Language, text: str, sentences: list[str] | None = None, **fields
) -> Script:
    estimate = script_text.estimate_script(
        sentences if sentences is not None else text, language.code
    )
    seconds = estimate.total_seconds
    if language.chars_per_second:
        # A measured reading speed for this language beats the built-in default.
        seconds *= script_text.chars_per_second(language.code) / language.chars_per_second
    return Script(
        language=language,
        text=text,
        sentences=estimate.sentences,
        estimated_seconds=round(seconds, 2),
        length_bucket=script_text.length_bucket(seconds, len(estimate.sentences)),
        **fields,
    )
