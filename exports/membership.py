"""An export's membership, and what changed between two exports.

Framework-free (stdlib only). Every export stores its membership as an index:
one line per clip, sorted by clip id, with the clip's exported id, its split
and a digest of what the export says about it (text, status, confidence,
speaker, demographics, duration). A delta export compares the current clips
with the index of the export it follows, in one merge pass over two sorted
streams, so memory does not grow with the number of clips:

* a clip only in the current stream was **added**;
* a clip in both whose digest differs **changed** (its text was corrected, it
  was re-scored, its speaker changed their profile ...);
* a clip only in the old index was **removed** (rejected by a reviewer, its
  speaker withdrew consent or erased their account, filters left it out);
* a changed clip whose exported id changed is listed as removed too, so that
  a researcher replacing clips by id drops the old one.

Comparing stored digests rather than modification times is what makes it
exact: a consent withdrawal or a re-score changes no chunk's timestamp.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    """One clip of an export's membership."""

    clip: str  # the chunk's id (hex): the sort key
    utt_id: str  # the id manifests give it
    split: str
    digest: str

    def line(self) -> str:
        return f"{self.clip}\t{self.utt_id}\t{self.split}\t{self.digest}\n"

    @classmethod
    def parse(cls, line: str) -> Entry:
        clip, utt_id, split, digest = line.rstrip("\n").split("\t")
        return cls(clip, utt_id, split, digest)


def digest(*values) -> str:
    """A short fingerprint of what an export says about a clip."""
    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@dataclass
class Change:
    """One step of the comparison: ``kind`` is added, changed, same or removed;
    ``new`` is the current entry (None when removed), ``old`` the base's."""

    kind: str
    new: Entry | None
    old: Entry | None


class UnsortedError(ValueError):
    """An input stream is not in clip order: the merge would be wrong."""


def _sorted(entries: Iterable[Entry], what: str) -> Iterator[Entry]:
    previous = ""
    for entry in entries:
        if entry.clip <= previous:
            raise UnsortedError(f"{what} is not sorted by clip id at {entry.clip}")
        previous = entry.clip
        yield entry


def compare(current: Iterable[Entry], base: Iterable[Entry]) -> Iterator[Change]:
    """Merge two clip-sorted streams into the changes from ``base`` to ``current``."""
    new_iter = _sorted(current, "the current membership")
    old_iter = _sorted(base, "the base index")
    new = next(new_iter, None)
    old = next(old_iter, None)
    while new is not None or old is not None:
        if old is None or (new is not None and new.clip < old.clip):
            yield Change("added", new, None)
            new = next(new_iter, None)
        elif new is None or old.clip < new.clip:
            yield Change("removed", None, old)
            old = next(old_iter, None)
        else:
            kind = "same" if new.digest == old.digest and new.utt_id == old.utt_id else "changed"
            yield Change(kind, new, old)
            new = next(new_iter, None)
            old = next(old_iter, None)
