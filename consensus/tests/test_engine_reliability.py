"""Reliability: Beta posteriors, weights, leave-one-out evidence, batch EM."""

import math
import random
from dataclasses import replace

import pytest

from consensus.engine import (
    EngineConfig,
    Evidence,
    Reliability,
    ReliabilityState,
    Transcript,
    reliability_evidence,
    reliability_prior,
    reliability_update,
    reliability_weight,
    weight_from_accuracy,
)
from consensus.engine.reliability import DecidedChunk, reestimate

CONFIG = EngineConfig()


def test_weight_is_log_odds_and_never_negative():
    assert weight_from_accuracy(0.9) == pytest.approx(math.log(9))
    assert weight_from_accuracy(0.5) == 0.0
    assert weight_from_accuracy(0.3) == 0.0
    assert math.isfinite(weight_from_accuracy(1.0))


def test_prior_has_the_configured_mean_and_strength():
    prior = reliability_prior(CONFIG)
    assert prior.accuracy == pytest.approx(CONFIG.prior_mean)
    assert prior.alpha + prior.beta == pytest.approx(CONFIG.prior_strength)


def test_under_half_accuracy_silences_only_with_enough_evidence():
    config = replace(CONFIG, prior_strength=10.0, min_evidence_words=40.0)
    few = reliability_update(reliability_prior(config), Evidence(2.0, 20.0), config)
    assert few.accuracy < 0.5
    assert reliability_weight(few, config) == pytest.approx(0.1)
    many = reliability_update(few, Evidence(5.0, 40.0), config)
    assert reliability_weight(many, config) == 0.0


def test_accuracy_is_capped_for_weighting():
    perfect = Reliability(alpha=10_000.0, beta=1.0)
    assert reliability_weight(perfect, CONFIG) == pytest.approx(
        weight_from_accuracy(CONFIG.max_accuracy)
    )


def test_old_evidence_decays_toward_the_prior():
    config = replace(CONFIG, decay=0.5)
    prior = reliability_prior(config)
    bad = Reliability(alpha=prior.alpha + 10.0, beta=prior.beta + 90.0)
    decayed = reliability_update(bad, Evidence(0.0, 0.0), config)
    assert decayed.alpha == pytest.approx(prior.alpha + 5.0)
    assert decayed.beta == pytest.approx(prior.beta + 45.0)


def test_state_is_per_contributor_and_language():
    state = ReliabilityState(CONFIG)
    state.update("a", "bn", Evidence(0.0, 30.0))
    assert state.get("a", "bn").accuracy < CONFIG.prior_mean
    assert state.get("a", "en").accuracy == pytest.approx(CONFIG.prior_mean)
    assert state.get("b", "bn").accuracy == pytest.approx(CONFIG.prior_mean)


def test_own_vote_does_not_raise_a_contributors_agreement():
    # The heavy contributor alone decides the middle word of the consensus,
    # but leave-one-out judges them by the other two, who disagree.
    transcripts = [
        Transcript("heavy", "a b c", weight=5.0),
        Transcript("light1", "a x c", weight=1.0),
        Transcript("light2", "a x c", weight=1.0),
    ]
    evidence = reliability_evidence(transcripts, prior_text=None, config=CONFIG)
    assert evidence["heavy"] == Evidence(agree=2.0, disagree=1.0)
    # Each light one is judged by heavy + the other light one: heavy wins "b".
    assert evidence["light1"] == Evidence(agree=2.0, disagree=1.0)


def test_agreeing_pair_both_gain_full_agreement():
    transcripts = [Transcript("a", "one two three"), Transcript("b", "one two three")]
    evidence = reliability_evidence(transcripts, prior_text=None, config=CONFIG)
    assert evidence == {"a": Evidence(3.0, 0.0), "b": Evidence(3.0, 0.0)}


def test_inserted_word_counts_as_disagreement():
    transcripts = [
        Transcript("a", "one two"),
        Transcript("b", "one extra two"),
        Transcript("c", "one two"),
        Transcript("d", "one two"),
    ]
    evidence = reliability_evidence(transcripts, prior_text=None, config=CONFIG)
    assert evidence["b"] == Evidence(agree=2.0, disagree=1.0)
    assert evidence["a"] == Evidence(agree=2.0, disagree=0.0)


def test_reviewer_text_is_compared_directly_and_counts_more():
    transcripts = [Transcript("a", "one two three"), Transcript("b", "one too three")]
    evidence = reliability_evidence(
        transcripts, prior_text=None, config=CONFIG, reviewed_text="one two three"
    )
    scale = CONFIG.reviewer_evidence_weight
    assert evidence["a"] == Evidence(3.0 * scale, 0.0)
    assert evidence["b"] == Evidence(2.0 * scale, 1.0 * scale)


def test_flagged_transcripts_earn_no_evidence():
    transcripts = [
        Transcript("a", "one two"),
        Transcript("b", "one two"),
        Transcript("f", "", flags=frozenset({"unintelligible"})),
    ]
    assert set(reliability_evidence(transcripts, prior_text=None, config=CONFIG)) == {"a", "b"}


def test_batch_reestimation_silences_a_spammer_and_trusts_the_careful():
    rng = random.Random(5)
    vocabulary = [f"w{k}" for k in range(50)]
    chunks = []
    for _ in range(40):
        truth = [rng.choice(vocabulary) for _ in range(8)]
        sloppy = [w if rng.random() > 0.2 else rng.choice(vocabulary) for w in truth]
        spam = [rng.choice(vocabulary) for _ in range(8)]
        chunks.append(
            DecidedChunk(
                (
                    Transcript("careful", " ".join(truth)),
                    Transcript("sloppy", " ".join(sloppy)),
                    Transcript("spammer", " ".join(spam)),
                    Transcript("careful2", " ".join(truth)),
                )
            )
        )
    state = reestimate(chunks, language="xx", config=CONFIG)
    assert state.weight("spammer", "xx") == 0.0
    assert state.get("careful", "xx").accuracy > state.get("sloppy", "xx").accuracy > 0.6


def test_silenced_contributors_do_not_vote_in_the_reestimation():
    # Two colluders type the same wrong text: with their votes counted, the
    # honest transcriber looks like the one who is wrong.
    chunks = [
        DecidedChunk(
            (
                Transcript("honest", "the kettle began to whistle"),
                Transcript("colluder1", "a cattle begun two whistles"),
                Transcript("colluder2", "a cattle begun two whistles"),
                Transcript("newcomer", "the kettle began to whistle"),
            )
        )
        for _ in range(20)
    ]
    counted = reestimate(chunks, language="xx", config=CONFIG)
    silenced = reestimate(
        chunks, language="xx", config=CONFIG, silenced=frozenset({"colluder1", "colluder2"})
    )
    assert counted.get("honest", "xx").accuracy < 0.8
    assert silenced.get("honest", "xx").accuracy > 0.9
