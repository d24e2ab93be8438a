"""ROVER-style alignment: insertions, deletions, spelling variants, order."""

import random

from consensus.engine.align import align


def columns(slots):
    return [tuple(slot.entries) for slot in slots]


def test_identical_sequences_give_one_slot_per_word():
    slots = align([["a", "b", "c"], ["a", "b", "c"]], [1.0, 1.0])
    assert columns(slots) == [("a", "a"), ("b", "b"), ("c", "c")]


def test_deletion_adds_null_candidate_to_existing_slot():
    slots = align([["the", "big", "dog"], ["the", "dog"]], [2.0, 1.0])
    assert columns(slots) == [("the", "the"), ("big", None), ("dog", "dog")]
    assert slots[1].null_weight == 1.0


def test_insertion_opens_slot_with_null_for_voters_already_merged():
    slots = align([["the", "dog"], ["the", "big", "dog"], ["the", "dog"]], [3.0, 1.0, 2.0])
    assert columns(slots) == [("the",) * 3, (None, "big", None), ("dog",) * 3]
    # The NULLs of the two heavier voters merged before count in the vote.
    assert slots[1].null_weight == 5.0
    assert slots[1].word_weight == {"big": 1.0}


def test_bangla_spelling_variants_line_up_instead_of_shifting():
    # ি/ী and শ/স variants: the light voter dropped আমি and misspelt কাশী.
    # With unit substitution costs, pairing কাসি with আমি (and dropping
    # কাশী) would cost the same; the similarity cost must pair the variants.
    heavy = ["আমি", "কাশী", "যাব"]
    light = ["কাসি", "যাব"]
    slots = align([heavy, light], [2.0, 1.0])
    assert columns(slots) == [("আমি", None), ("কাশী", "কাসি"), ("যাব", "যাব")]


def test_similar_word_is_preferred_over_dissimilar_neighbour():
    # "stord" could pair with "be" or "stored"; similarity picks "stored" and
    # leaves "be" as the deletion.
    slots = align([["should", "be", "stored", "away"], ["should", "stord", "away"]], [2.0, 1.0])
    assert columns(slots) == [
        ("should", "should"),
        ("be", None),
        ("stored", "stord"),
        ("away", "away"),
    ]


def test_compound_split_aligns_with_the_joined_word():
    slots = align([["in", "airtight", "vessels"], ["in", "air", "tight", "vessels"]], [2.0, 1.0])
    pairs = columns(slots)
    assert pairs[0] == ("in", "in") and pairs[-1] == ("vessels", "vessels")
    middle = pairs[1:-1]
    assert sorted(w for _, w in middle) == ["air", "tight"]
    assert [w for w, _ in middle].count("airtight") == 1


def test_entries_follow_input_order_although_heaviest_merges_first():
    slots = align([["b"], ["a"], ["a"]], [0.5, 1.0, 1.0])
    assert columns(slots) == [("b", "a", "a")]
    assert slots[0].best == "a"


def test_empty_and_zero_weight_voters_are_placed():
    slots = align([[], ["x", "y"], ["x"]], [1.0, 0.0, 0.0])
    assert columns(slots) == [(None, "x", "x"), (None, "y", None)]


def test_every_voter_keeps_its_words_in_order_on_random_inputs():
    rng = random.Random(3)
    vocabulary = ["a", "ab", "abc", "b", "bc", "c", "d"]
    for _ in range(300):
        sequences = [
            [rng.choice(vocabulary) for _ in range(rng.randint(0, 7))]
            for _ in range(rng.randint(1, 6))
        ]
        weights = [rng.choice([0.0, 0.4, 1.7, 2.2]) for _ in sequences]
        slots = align(sequences, weights)
        for k, sequence in enumerate(sequences):
            assert [s.entries[k] for s in slots if s.entries[k] is not None] == sequence
        for slot in slots:
            assert len(slot.entries) == len(sequences)
            assert any(entry is not None for entry in slot.entries)


def test_large_windows_get_the_same_costs_from_the_batched_path():
    from consensus.engine import align as module

    slots = align([[f"word{k}" for k in range(8)], [f"w{k}rd" for k in range(8)]], [2.0, 1.0])
    tokens = [f"wo{k}d" for k in range(8)]
    assert len(slots) * len(tokens) >= module._CDIST_MIN_CELLS
    batched = module._substitution_costs(slots, tokens)
    saved = module._CDIST_MIN_CELLS
    module._CDIST_MIN_CELLS = 10**9
    try:
        assert module._substitution_costs(slots, tokens) == batched
    finally:
        module._CDIST_MIN_CELLS = saved
