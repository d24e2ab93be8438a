"""The membership merge behind delta exports (framework-free, no database)."""

from __future__ import annotations

import pytest

from exports.membership import Entry, UnsortedError, compare, digest


def entry(clip: str, text: str = "a", utt: str | None = None, split: str = "train") -> Entry:
    return Entry(clip, utt or f"spk-{clip}", split, digest(text, split))


def kinds(current, base) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for change in compare(current, base):
        found.setdefault(change.kind, []).append((change.new or change.old).clip)
    return found


def test_added_changed_same_and_removed_in_one_pass():
    base = [entry("01"), entry("02"), entry("03", "old"), entry("05")]
    current = [entry("02"), entry("03", "new"), entry("04"), entry("06")]
    assert kinds(current, base) == {
        "removed": ["01", "05"],
        "same": ["02"],
        "changed": ["03"],
        "added": ["04", "06"],
    }


def test_a_new_exported_id_is_a_change():
    assert kinds([entry("01", utt="b-01")], [entry("01", utt="a-01")]) == {"changed": ["01"]}


def test_empty_sides():
    assert kinds([], [entry("01")]) == {"removed": ["01"]}
    assert kinds([entry("01")], []) == {"added": ["01"]}
    assert kinds([], []) == {}


def test_unsorted_input_is_refused_rather_than_merged_wrongly():
    with pytest.raises(UnsortedError):
        list(compare([entry("02"), entry("01")], []))


def test_index_lines_round_trip():
    original = entry("0a1b", "text with spaces")
    assert Entry.parse(original.line()) == original
