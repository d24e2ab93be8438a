"""Every export's membership index, and a delta export's changes (exports/membership.py).

Planning streams the matching clips in id order (metadata only, no audio),
writes the export's index to ``export.index_key`` and, for a delta export,
merges the stream with the index of the export it follows. What the build
then writes is only the clips added or changed; the ids of the clips removed
since go to ``removed.tsv``. The delta's own index holds every clip that
matches now, so a delta can follow a delta.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.files.storage import default_storage
from django.utils.translation import gettext_noop

from exports import membership, selectors, splits
from exports.models import Export
from exports.services import lifecycle
from shrutik.storage import storage_copy_to_temp, storage_put

INDEX_PAGE = 5000
REMOVED = "removed.tsv"
DELTA = "delta.json"
INCLUDE = "include.json"
INDEX_FIELDS = ("id", "text", "status", "confidence", "duration", "language__code",
                "contributor__speaker_id")  # fmt: skip


@dataclasses.dataclass
class Measured:
    """What a delta export will hold (``include`` is None for a full export)."""

    include: set[str] | None = None
    per_split: Counter = dataclasses.field(default_factory=Counter)
    figures: dict | None = None

    @property
    def total(self) -> int:
        return sum(self.per_split.values())


def _entries(qs, speakers, owners, small_cohorts) -> Iterator[membership.Entry]:
    """The planned clips as index entries, in id order."""
    for rows in selectors.keyset_pages(qs, size=INDEX_PAGE, fields=INDEX_FIELDS):
        for row in rows:
            speaker = speakers.get(row["contributor__speaker_id"])
            if speaker is None:
                continue  # consented after planning: the next export
            if owners is not None and owners.get(splits.sentence_key(row["text"])) != speaker.split:
                continue  # its sentence belongs to another split (sentence-disjoint)
            clip = row["id"].hex
            utt_id = f"{speaker.pseudonym}-{clip}"
            people = (
                ("", "", "", "")
                if row["language__code"] in small_cohorts
                else (speaker.gender, speaker.age, speaker.native_language, speaker.dialect)
            )
            confidence = None if row["confidence"] is None else round(row["confidence"], 4)
            said = (row["text"], row["status"], confidence, speaker.split, utt_id,
                    row["language__code"], *people, round(row["duration"] or 0.0, 3))  # fmt: skip
            yield membership.Entry(clip, utt_id, speaker.split, membership.digest(*said))


def _read_index(export: Export) -> Iterator[membership.Entry]:
    try:
        fh = default_storage.open(export.index_key, "rb")
    except FileNotFoundError:
        raise lifecycle.DeltaBaseError(
            f"The clip index of export {export.version} ({export.id}) is gone; "
            "request a full export instead."
        ) from None
    with fh, gzip.open(fh, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield membership.Entry.parse(line)


def _put(key: str, path: Path) -> None:
    with open(path, "rb") as fh:
        storage_put(key, fh)


def index_and_measure(
    export: Export, token, *, qs, speakers, owners, small_cohorts: set[str]
) -> Measured:
    """Write the export's index; for a delta, also what it holds and removes.

    The delta's list of removed clips and its figures wait in the work prefix
    for the final step (``load_delta``).
    """
    measured = Measured()
    base = export.since if export.since_id else None
    with tempfile.TemporaryDirectory(prefix="shrutik-index-") as tmp:
        index_path = Path(tmp) / "index.tsv.gz"
        removed_path = Path(tmp) / REMOVED
        # mtime=0: the same clips give the same bytes.
        with (
            open(index_path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            io.TextIOWrapper(gz, encoding="utf-8") as index,
        ):
            current = _entries(qs, speakers, owners, small_cohorts)

            def written() -> Iterator[membership.Entry]:
                for entry in current:
                    index.write(entry.line())
                    yield entry

            if base is None:
                for _ in written():
                    pass
            else:
                measured = _measure(written(), _read_index(base), removed_path, base)
        _put(export.index_key, index_path)
        if base is not None:
            work = lifecycle.work_prefix(export.id)
            _put(work + REMOVED, removed_path)
            body = json.dumps({"figures": measured.figures, "include": sorted(measured.include)})
            storage_put(work + INCLUDE, io.BytesIO(body.encode()))
    lifecycle.progress(export.id, token, indexed=True)
    if base is not None and not measured.total and not measured.figures["removed"]:
        raise lifecycle.ExportEmptyError(
            gettext_noop("Nothing changed since the export this one follows; nothing to export.")
        )
    return measured


def _measure(current, base_entries, removed_path: Path, base: Export) -> Measured:
    measured = Measured(include=set())
    counts: Counter = Counter()
    with open(removed_path, "w", encoding="utf-8") as removed:
        removed.write("id\tclip_id\tsplit\n")
        for change in membership.compare(current, base_entries):
            counts[change.kind] += 1
            if change.kind in ("added", "changed"):
                measured.include.add(change.new.clip)
                measured.per_split[change.new.split] += 1
            old = change.old
            if change.kind == "removed" or (
                change.kind == "changed" and old.utt_id != change.new.utt_id
            ):
                removed.write(f"{old.utt_id}\t{old.clip}\t{old.split}\n")
                counts["ids_removed"] += 1
    measured.figures = {
        "since": str(base.id),
        "since_version": base.version,
        "since_created_at": base.created_at.isoformat(),
        "added": counts["added"],
        "changed": counts["changed"],
        "removed": counts["removed"],
        "unchanged": counts["same"],
        "ids_removed": counts["ids_removed"],
    }
    return measured


def load_include(export: Export) -> set[str] | None:
    """A delta's clips to write (for the batch tasks of a processed delta)."""
    if not export.since_id:
        return None
    with default_storage.open(lifecycle.work_prefix(export.id) + INCLUDE, "rb") as fh:
        return set(json.load(fh)["include"])


def load_delta(export: Export) -> tuple[Path, dict] | None:
    """The final step's share of a delta: a local copy of removed.tsv (the
    caller uploads and deletes it) and the delta's figures."""
    if not export.since_id:
        return None
    work = lifecycle.work_prefix(export.id)
    with default_storage.open(work + INCLUDE, "rb") as fh:
        figures = json.load(fh)["figures"]
    return storage_copy_to_temp(work + REMOVED, suffix=".tsv"), figures
