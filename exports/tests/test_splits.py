"""Unit tests of the framework-free splitter (no database)."""

from __future__ import annotations

import random

import pytest

from exports.splits import (
    SplitSpec,
    assign_speakers,
    hash_bucket,
    sentence_key,
    sentence_owners,
)


def speakers(n: int, *, seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    # Long-tailed like real crowdsourcing: a few speakers read a lot.
    return {f"spk{i:05d}": rng.paretovariate(1.5) for i in range(n)}


def split_hours(assigned: dict[str, str], hours: dict[str, float]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for speaker, split in assigned.items():
        totals[split] = totals.get(split, 0.0) + hours[speaker]
    return totals


def test_every_speaker_is_in_exactly_one_split():
    hours = speakers(500)
    assigned = assign_speakers(hours, spec=SplitSpec())
    assert set(assigned) == set(hours)
    assert set(assigned.values()) == {"train", "dev", "test"}


def test_same_data_and_seed_give_the_same_split_whatever_the_order():
    hours = speakers(300)
    shuffled = dict(random.Random(5).sample(sorted(hours.items()), len(hours)))
    assert assign_speakers(hours, spec=SplitSpec(seed=7)) == assign_speakers(
        shuffled, spec=SplitSpec(seed=7)
    )


def test_another_seed_gives_another_split():
    hours = {s: 1.0 for s in speakers(300)}
    assert assign_speakers(hours, spec=SplitSpec(seed=1)) != assign_speakers(
        hours, spec=SplitSpec(seed=2)
    )


def test_hours_follow_the_ratios_despite_heavy_speakers():
    hours = speakers(400, seed=3)
    totals = split_hours(assign_speakers(hours, spec=SplitSpec()), hours)
    total = sum(hours.values())
    assert totals["train"] / total == pytest.approx(0.8, abs=0.02)
    assert totals["dev"] / total == pytest.approx(0.1, abs=0.02)
    assert totals["test"] / total == pytest.approx(0.1, abs=0.02)


def test_custom_ratios_and_a_missing_split():
    hours = speakers(200)
    assigned = assign_speakers(hours, spec=SplitSpec(ratios={"train": 0.5, "test": 0.5}))
    assert set(assigned.values()) == {"train", "test"}
    totals = split_hours(assigned, hours)
    assert totals["train"] / sum(hours.values()) == pytest.approx(0.5, abs=0.03)


def test_re_export_with_more_data_keeps_old_speakers_in_their_split():
    spec = SplitSpec(seed=11)
    first_hours = speakers(100, seed=1)
    first = assign_speakers(first_hours, spec=spec)
    grown = {**first_hours, **{f"new{i}": 2.0 for i in range(300)}}
    grown["spk00003"] += 50  # an old speaker kept reading a lot
    second = assign_speakers(grown, spec=spec, previous=first)
    assert all(second[s] == first[s] for s in first)
    # New speakers rebalance hours even though old ones cannot move.
    totals = split_hours(second, grown)
    assert totals["test"] / sum(grown.values()) == pytest.approx(0.1, abs=0.03)


def test_previous_assignments_of_absent_speakers_are_ignored():
    assigned = assign_speakers({"a": 1.0}, spec=SplitSpec(), previous={"gone": "test", "a": "dev"})
    assert assigned == {"a": "dev"}


def test_small_datasets_still_fill_every_requested_split():
    assigned = assign_speakers({"a": 1.0, "b": 1.0, "c": 1.0}, spec=SplitSpec())
    assert sorted(assigned.values()) == ["dev", "test", "train"]


def test_zero_durations_still_split_by_count():
    assigned = assign_speakers({f"s{i}": 0.0 for i in range(100)}, spec=SplitSpec())
    counts = {s: list(assigned.values()).count(s) for s in ("train", "dev", "test")}
    assert counts["train"] == 80 and counts["dev"] == 10 and counts["test"] == 10


def test_invalid_specs_are_refused():
    with pytest.raises(ValueError):
        SplitSpec(ratios={"train": 0, "dev": 0})
    with pytest.raises(ValueError):
        SplitSpec(ratios={"holdout": 1.0})
    with pytest.raises(ValueError):
        SplitSpec(ratios={"train": -1, "dev": 2})


def test_lineage_depends_on_seed_ratios_and_mode_only():
    assert SplitSpec(seed=1).lineage == SplitSpec(seed=1).lineage
    assert SplitSpec(ratios={"train": 8, "dev": 1, "test": 1}).lineage == SplitSpec().lineage
    assert SplitSpec(seed=1).lineage != SplitSpec(seed=2).lineage
    assert SplitSpec().lineage != SplitSpec(sentence_disjoint=True).lineage


def test_hash_bucket_is_uniform_and_stable():
    ratios = {"train": 0.8, "dev": 0.1, "test": 0.1}
    buckets = [hash_bucket(3, f"k{i}", ratios) for i in range(20000)]
    assert buckets.count("dev") / len(buckets) == pytest.approx(0.1, abs=0.01)
    assert hash_bucket(3, "k1", ratios) == buckets[1]


def test_sentence_owners_make_splits_sentence_disjoint():
    rng = random.Random(2)
    hours = {f"s{i}": 1.0 for i in range(60)}
    spec = SplitSpec(sentence_disjoint=True)
    assigned = assign_speakers(hours, spec=spec)
    readings = [
        (speaker, sentence_key(f"sentence {rng.randrange(40)}"), rng.uniform(1, 5))
        for speaker in hours
        for _ in range(5)
    ]
    owners = sentence_owners(readings, speaker_split=assigned, spec=spec)
    kept: dict[str, set[str]] = {}
    for speaker, sentence, _ in readings:
        if owners[sentence] == assigned[speaker]:
            kept.setdefault(sentence, set()).add(assigned[speaker])
    assert all(len(splits) == 1 for splits in kept.values())
    # The owner is the split with the most audio of the sentence.
    shares: dict[str, dict[str, float]] = {}
    for speaker, sentence, seconds in readings:
        per = shares.setdefault(sentence, {})
        per[assigned[speaker]] = per.get(assigned[speaker], 0) + seconds
    assert all(owners[s] == max(per, key=per.get) for s, per in shares.items())


def test_sentence_key_ignores_case_and_spacing():
    assert sentence_key("Hello   world") == sentence_key(" hello world ")
    assert sentence_key("hello world") != sentence_key("hello, world")


def per_language_hours(assigned: dict[str, str], hours: dict[str, dict[str, float]]):
    totals: dict[str, dict[str, float]] = {}
    for speaker, split in assigned.items():
        for language, h in hours[speaker].items():
            per = totals.setdefault(language, {})
            per[split] = per.get(split, 0.0) + h
    return totals


def test_each_language_is_split_on_its_own():
    # Few Bangla speakers reading a lot, many English speakers reading little:
    # packed as one pool, the Bangla speakers filled train and English the rest.
    rng = random.Random(4)
    hours = {f"bn{i}": {"bn": rng.uniform(8, 12)} for i in range(10)}
    hours |= {f"en{i}": {"en": rng.uniform(0.1, 0.3)} for i in range(200)}
    assigned = assign_speakers(hours, spec=SplitSpec())
    totals = per_language_hours(assigned, hours)
    for language in ("bn", "en"):
        share = {s: h / sum(totals[language].values()) for s, h in totals[language].items()}
        assert set(share) == {"train", "dev", "test"}, language
        assert share["train"] == pytest.approx(0.8, abs=0.1), language
        assert share["test"] == pytest.approx(0.1, abs=0.06), language


def test_a_speaker_of_two_languages_is_still_in_one_split():
    hours = {f"bn{i}": {"bn": 1.0} for i in range(20)}
    hours |= {f"en{i}": {"en": 1.0} for i in range(20)}
    hours["both"] = {"bn": 2.0, "en": 2.0}
    assigned = assign_speakers(hours, spec=SplitSpec())
    assert assigned["both"] in {"train", "dev", "test"}
    for language in ("bn", "en"):
        splits = {assigned[s] for s in hours if language in hours[s]}
        assert splits == {"train", "dev", "test"}, language


def test_small_languages_each_fill_every_split():
    hours = {s: {"bn": 1.0} for s in ("a", "b", "c")} | {s: {"en": 5.0} for s in ("d", "e", "f")}
    assigned = assign_speakers(hours, spec=SplitSpec())
    assert sorted(assigned[s] for s in "abc") == ["dev", "test", "train"]
    assert sorted(assigned[s] for s in "def") == ["dev", "test", "train"]


def test_one_language_by_language_is_the_same_as_without():
    flat = speakers(300, seed=9)
    nested = {s: {"bn": h} for s, h in flat.items()}
    spec = SplitSpec(seed=2)
    assert assign_speakers(flat, spec=spec) == assign_speakers(nested, spec=spec)


def test_earlier_speakers_stay_and_new_ones_rebalance_a_language():
    # An earlier export (before splits were per language) put every Bangla
    # speaker in train: they stay, and new Bangla speakers go to dev and test.
    spec = SplitSpec()
    previous = {f"bn{i}": "train" for i in range(5)}
    hours = {s: {"bn": 1.0} for s in previous} | {f"new{i}": {"bn": 1.0} for i in range(5)}
    assigned = assign_speakers(hours, spec=spec, previous=previous)
    assert all(assigned[s] == "train" for s in previous)
    assert {assigned[f"new{i}"] for i in range(5)} >= {"dev", "test"}
