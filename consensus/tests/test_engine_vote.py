"""Reliability-weighted voting, the script prior, confidences and raw text."""

import math

import pytest

from consensus.engine.align import align
from consensus.engine.policy import build_voters
from consensus.engine.schema import EngineConfig, Transcript
from consensus.engine.vote import Voter, combine, mean_pairwise_cer, vote_slot
from transcriptions.normalize import tokenize_with_raw


def voter(text: str, weight: float) -> Voter:
    tokens, raws = tokenize_with_raw(text)
    return Voter(tokens, raws, weight)


def test_two_light_voters_outvote_one_heavy_and_weights_can_flip_it():
    light = combine([voter("a cat sat", 2.0), voter("a bat sat", 1.1), voter("a bat sat", 1.0)])
    assert light.tokens == ["a", "bat", "sat"]
    heavy = combine([voter("a cat sat", 2.0), voter("a bat sat", 0.9), voter("a bat sat", 0.9)])
    assert heavy.tokens == ["a", "cat", "sat"]


def test_confidence_is_softmax_including_the_unseen_word_candidate():
    result = combine([voter("yes", 2.0), voter("no", 1.0)])
    partition = math.exp(2.0) + math.exp(1.0) + math.exp(0.0)
    assert result.confidences == [pytest.approx(math.exp(2.0) / partition)]
    assert result.votes[0].margin == pytest.approx(1.0)
    assert result.expected_errors == pytest.approx(1.0 - math.exp(2.0) / partition)
    assert result.estimated_wer == pytest.approx(result.expected_errors)


def test_unanimous_single_voter_is_not_certain():
    result = combine([voter("hello", math.log(0.85 / 0.15))])
    assert result.confidences[0] == pytest.approx(0.85)


def test_estimated_wer_counts_null_winners_as_possible_deletions():
    result = combine([voter("a b c", 1.0), voter("a c", 1.0), voter("a c", 1.0)])
    assert result.tokens == ["a", "c"]
    b_slot = result.votes[1]
    assert b_slot.winner is None
    assert result.expected_errors == pytest.approx(
        sum(1.0 - vote.confidence for vote in result.votes)
    )
    assert result.estimated_wer == pytest.approx(result.expected_errors / 2)


def test_null_factor_lets_a_word_beat_an_equal_weight_of_nulls():
    for voters in (
        [voter("a b c", 1.0), voter("a c", 1.0)],
        [voter("a c", 1.0), voter("a b c", 1.0)],
    ):
        # An exact tie keeps the word out; discounted NULLs let it in.
        assert combine(voters, null_factor=1.0).tokens == ["a", "c"]
        assert combine(voters, null_factor=0.7).tokens == ["a", "b", "c"]


def test_zero_weight_voter_does_not_count():
    result = combine([voter("spam spam", 0.0), voter("real words", 1.0)])
    assert result.tokens == ["real", "words"]


def test_all_silenced_voters_still_give_text_but_no_confidence():
    result = combine([voter("one two", 0.0), voter("one two", 0.0)])
    assert result.tokens == ["one", "two"]
    assert max(result.confidences) < 0.51
    assert result.estimated_wer > 0.4


def test_text_is_rebuilt_from_the_most_common_raw_spelling_of_the_winners():
    result = combine(
        [
            voter("Dr. Rahman, come!", 1.0),
            voter("dr rahman come", 1.0),
            voter("Dr. Rahman come", 1.0),
            voter("Dr. Rahman come", 0.5),
        ]
    )
    assert result.text == "Dr. Rahman come"
    assert result.tokens == ["doctor", "rahman", "come"]


def test_script_prior_confirms_a_single_reader_and_is_outvoted_by_two():
    config = EngineConfig(prior_weight=1.0)
    one = [Transcript("r1", "আমি ভাত খাই", weight=1.7)]
    voters, _ = build_voters(one, "আমি ভাত খাই", config)
    assert combine(voters).votes[1].margin == pytest.approx(2.7)

    readers = [
        Transcript("r1", "আমি রুটি খাই", weight=1.2),
        Transcript("r2", "আমি রুটি খাই", weight=1.2),
    ]
    voters, _ = build_voters(readers, "আমি ভাত খাই", config)
    assert combine(voters).tokens == ["আমি", "রুটি", "খাই"]
    voters, _ = build_voters(readers[:1], "আমি ভাত খাই", EngineConfig(prior_weight=1.5))
    assert combine(voters).tokens == ["আমি", "ভাত", "খাই"]


def test_leave_one_out_vote_ignores_the_excluded_voter():
    slots = align([["x"], ["y"], ["y"]], [5.0, 1.0, 1.0])
    assert vote_slot(slots[0], [5.0, 1.0, 1.0]).winner == "x"
    assert vote_slot(slots[0], [5.0, 1.0, 1.0], exclude=0).winner == "y"


def test_mean_pairwise_cer():
    assert mean_pairwise_cer(["abcd", "abcd"]) == 0.0
    assert mean_pairwise_cer(["abcd", "wxyz", "abcd"]) == pytest.approx(2 / 3)
    assert mean_pairwise_cer(["only one"]) == 0.0
