"""The stopping rule: every state decide() can return, and why."""

import math
from dataclasses import replace

import pytest

from consensus.engine import (
    METHOD_VERSION,
    STOP_THRESHOLD_RANGE,
    EngineConfig,
    Transcript,
    audit_draw,
    budget_threshold,
    decide,
    rescored_status,
)

CONFIG = EngineConfig()
# Volunteers so cheap and a threshold so low that no chunk settles: isolates
# the other rules.
PATIENT = replace(CONFIG, stop_expected_errors=0.01, wrong_word_value=1e9)
SENTENCE = "the quick brown fox jumps over the lazy dog"


def t(contributor: str, text: str, accuracy: float | None = None, **kwargs) -> Transcript:
    return Transcript(contributor, text, accuracy=accuracy, **kwargs)


def test_one_transcript_needs_more():
    decision = decide([t("a", SENTENCE, 0.95)], language="en")
    assert decision.status == "need_more"
    assert decision.text == SENTENCE


def test_two_newcomers_agreeing_are_not_enough_but_three_proven_are():
    newcomers = [t(c, SENTENCE) for c in "ab"]
    assert decide(newcomers, language="en", config=PATIENT).status == "need_more"
    proven = [t(c, SENTENCE, 0.9) for c in "abc"]
    decision = decide(proven, language="en")
    assert decision.status == "validated"
    assert decision.estimated_wer < CONFIG.wer_threshold
    assert decision.min_margin >= CONFIG.margin


def test_an_agreeing_pair_asks_a_third_to_confirm():
    # Two proven transcribers typing the same words can share a mishearing.
    pair = [t("a", SENTENCE, 0.9), t("b", SENTENCE, 0.9)]
    decision = decide(pair, language="en")
    assert decision.status == "need_more"
    assert "one more transcript to confirm" in decision.reason
    assert decision.min_margin >= CONFIG.margin
    early = replace(CONFIG, validate_from=2)
    assert decide(pair, language="en", config=early).status == "validated"


def test_agreeing_newcomers_validate_only_with_proven_company():
    # A newcomer counts at the prior mean (0.7): crowds have a long tail of
    # people who do a few tasks badly, so agreement among them proves little.
    newcomers = [t(c, SENTENCE) for c in "abcd"]
    slip = t("c", SENTENCE.replace("lazy", "hazy"))
    assert decide([*newcomers[:2], slip], language="en", config=PATIENT).status == "need_more"
    decision = decide([*newcomers[:2], t("c", SENTENCE, 0.9)], language="en")
    assert decision.status == "validated"
    assert decision.reason == "every word clearly agreed"


def test_three_newcomers_who_type_the_same_words_validate():
    # Their weights never pass the margin, but three people who typed the
    # same words independently are rarely all wrong the same way.
    newcomers = [t(c, SENTENCE.upper() + ".") for c in "abc"]
    decision = decide(newcomers, language="en", config=PATIENT)
    assert decision.min_margin < CONFIG.margin
    assert decision.status == "validated"
    assert decision.reason == "3 transcripts agree word for word"
    assert decision.normalized_text == SENTENCE
    # Beside someone who heard it differently, three are not enough; four are.
    dissent = [*newcomers, t("d", SENTENCE.replace("lazy", "hazy"))]
    assert decide(dissent, language="en", config=PATIENT).status == "need_more"
    more = decide([*dissent, t("e", SENTENCE)], language="en", config=PATIENT)
    assert more.reason == "4 transcripts agree word for word"
    # Someone proven worse than a newcomer confirms nothing.
    weak = [*newcomers[:2], t("c", SENTENCE, 0.6)]
    assert decide(weak, language="en", config=PATIENT).status == "need_more"
    # Nor does agreement with a text the chunk's consensus is not.
    other = "a quick brown fox"
    outvoted = [*(t(c, other) for c in "abc"), *(t(c, SENTENCE, 0.97) for c in "defg")]
    assert decide(outvoted, language="en", config=PATIENT).normalized_text == SENTENCE


def test_a_disputed_word_asks_for_one_more_transcript():
    transcripts = [t("a", SENTENCE, 0.9), t("b", SENTENCE.replace("lazy", "hazy"), 0.9)]
    decision = decide(transcripts, language="en", config=PATIENT)
    assert decision.status == "need_more"
    conf = dict(decision.words)
    assert conf["lazy"] < 0.6 < conf["quick"]


def test_the_estimated_wer_threshold_alone_can_hold_back_validation():
    # Four proven typists, two of whom slipped on different words: every
    # slot is clearly won, but only two typed the whole text.
    texts = [SENTENCE, SENTENCE, SENTENCE.replace("lazy", "hazy"), SENTENCE.replace("fox", "box")]
    proven = [t(str(k), x, 0.9) for k, x in enumerate(texts)]
    assert decide(proven, language="en", config=PATIENT).status == "validated"
    strict = replace(PATIENT, wer_threshold=0.001)
    assert decide(proven, language="en", config=strict).status == "need_more"


def test_no_agreement_at_the_maximum_goes_to_review_where_a_review_pays():
    words = ("hazy", "crazy", "lacy", "lady", "lazy", "lazy", "daisy")
    texts = [SENTENCE.replace("lazy", word) for word in words]
    transcripts = [t(str(k), x) for k, x in enumerate(texts)]
    decision = decide(transcripts, language="en", config=PATIENT)
    assert decision.status == "needs_review"
    assert "a review pays" in decision.reason
    assert decision.review_gain == pytest.approx(decision.expected_errors)
    assert decide(transcripts[:6], language="en", config=PATIENT).status == "need_more"
    # With the review queue full, the crowd's text is kept at the maximum.
    full = decide(transcripts, language="en", config=PATIENT, review_room=False)
    assert full.status == "accepted"
    # A wrong word worth less than the reviewer's time: accepted either way.
    cheap = replace(PATIENT, wrong_word_value=10.0, stop_expected_errors=0.01)
    assert decide(transcripts, language="en", config=cheap).status == "accepted"


def test_a_chunk_with_few_words_in_doubt_settles_and_is_accepted():
    texts = [SENTENCE] * 2 + [SENTENCE.replace("lazy", "hazy"), SENTENCE.replace("fox", "box")]
    transcripts = [t(str(k), x) for k, x in enumerate(texts)]
    # The threshold as the budget controller holds it once a language spends
    # more than its budget.
    over_budget = replace(CONFIG, stop_expected_errors=1.0)
    decision = decide(transcripts, language="en", config=over_budget)
    assert decision.status == "accepted"
    assert "settled" in decision.reason
    assert decision.expected_errors <= over_budget.stop_expected_errors
    # The same chunk under a lower threshold, with volunteers' time cheap
    # enough, asks for another transcript.
    lower = replace(CONFIG, stop_expected_errors=decision.expected_errors / 2, wrong_word_value=1e6)
    assert decide(transcripts, language="en", config=lower).status == "need_more"


def test_the_stopping_threshold_steers_to_the_transcript_budget():
    config = replace(CONFIG, transcript_budget=4.0, budget_step=0.1)
    assert budget_threshold(1.0, 6, config) == pytest.approx(math.exp(0.2))  # over: stop earlier
    assert budget_threshold(1.0, 2, config) == pytest.approx(math.exp(-0.2))  # under: later
    assert budget_threshold(1.0, 4, config) == pytest.approx(1.0)
    low, high = STOP_THRESHOLD_RANGE
    assert budget_threshold(low, 2, config) == low
    assert budget_threshold(high, 7, config) == high
    # Fed chunks that use what the threshold lets them, it settles where the
    # mean meets the budget: here a chunk uses 7 − 2 × threshold transcripts
    # (a higher threshold stops chunks earlier).
    threshold, used = 0.3, []
    for _ in range(2000):
        n = min(7, max(2, round(7 - 2 * threshold)))
        used.append(n)
        threshold = budget_threshold(threshold, n, config)
    assert sum(used[-500:]) / 500 == pytest.approx(4.0, abs=0.15)


def test_wildly_different_transcripts_go_to_review_from_the_third():
    texts = ["completely unrelated words here", "nothing alike at all", "zebra xylophone quartz"]
    config = replace(PATIENT, wild_cer=0.5)
    pair = [t("a", texts[0]), t("b", texts[1])]
    assert decide(pair, language="en", config=config).status == "need_more"
    decision = decide(
        [t(c, x) for c, x in zip("abc", texts, strict=True)], language="en", config=config
    )
    assert decision.status == "needs_review"
    assert "disagree wildly" in decision.reason
    assert decision.mean_pairwise_cer > config.wild_cer


def test_two_flags_send_to_review_and_flagged_text_does_not_vote():
    flagged = frozenset({"unintelligible"})
    one_flag = [
        t("a", SENTENCE, 0.9),
        t("b", "garbled", 0.95, flags=flagged),
        t("c", SENTENCE, 0.9),
    ]
    decision = decide(one_flag, language="en")
    # The flagged transcript neither votes nor confirms: two voters agree.
    assert decision.status == "need_more"
    assert "one more transcript to confirm" in decision.reason
    assert decision.text == SENTENCE
    one_flag.append(t("e", SENTENCE, 0.9))
    assert decide(one_flag, language="en").status == "validated"
    two_flags = [*one_flag, t("d", "", flags=frozenset({"wrong_language"}))]
    decision = decide(two_flags, language="en")
    assert decision.status == "needs_review"
    assert "2 people flagged" in decision.reason


def test_script_confirmed_by_two_reliable_readers_validates_without_the_margin():
    config = replace(PATIENT, margin=50.0)  # the margin rule alone could never pass
    readers = [t("a", "আমি ভাত খাই।", 0.85), t("b", "আমি ভাত খাই", 0.85)]
    decision = decide(readers, prior_text="আমি ভাত খাই", language="bn", config=config)
    assert decision.status == "validated"
    assert "says its sentence" in decision.reason and "2 confirmed" in decision.reason
    # Newcomers (at the prior mean) confirm; readers proven worse than a
    # newcomer do not, nor does a reader who deviates.
    newcomers = [t("a", "আমি ভাত খাই"), t("b", "আমি ভাত খাই")]
    assert decide(newcomers, prior_text="আমি ভাত খাই", language="bn", config=config).status == (
        "validated"
    )
    shaky = [t("a", "আমি ভাত খাই", 0.65), t("b", "আমি ভাত খাই", 0.65)]
    assert decide(shaky, prior_text="আমি ভাত খাই", language="bn", config=config).status == "need_more"
    deviating = [t("a", "আমি ভাত খাই", 0.9), t("b", "আমি রুটি খাই", 0.9)]
    assert (
        decide(deviating, prior_text="আমি ভাত খাই", language="bn", config=config).status
        == "need_more"
    )


def test_zero_weight_contributors_are_reported_to_reviewers():
    transcripts = [t("spam", "buy now", weight=0.0), t("a", SENTENCE, 0.9)]
    assert decide(transcripts, language="en").silenced_contributors == ("spam",)


def test_decision_carries_text_confidences_and_version():
    decision = decide([t("a", "Hello, World!", 0.9), t("b", "hello world", 0.9)], language="en")
    assert decision.text == "Hello, World!"
    assert decision.normalized_text == "hello world"
    assert [word for word, _ in decision.words] == ["hello", "world"]
    assert decision.expected_errors == pytest.approx(sum(1 - c for _, c in decision.words))
    assert decision.method_version == METHOD_VERSION
    assert decision.transcript_count == 2
    assert decision.language == "en"


def test_audit_is_reproducible_and_near_the_configured_rate():
    agreed = [t(c, SENTENCE, 0.9) for c in "abc"]
    config = replace(CONFIG, audit_rate=0.1)
    flags = [
        decide(agreed, language="en", config=config, audit_key=f"chunk-{k}").audit
        for k in range(2000)
    ]
    assert 0.08 < sum(flags) / len(flags) < 0.12
    again = [
        decide(agreed, language="en", config=config, audit_key=f"chunk-{k}").audit
        for k in range(50)
    ]
    assert again == flags[:50]
    assert decide(agreed, language="en", config=config).audit is False  # no key, no audit
    assert audit_draw("x", "salt") == audit_draw("x", "salt") != audit_draw("y", "salt")


def test_only_validated_chunks_are_audited():
    config = replace(CONFIG, audit_rate=1.0)
    assert decide([t("a", SENTENCE)], language="en", config=config, audit_key="k").audit is False


def test_config_rejects_inconsistent_counts():
    with pytest.raises(ValueError):
        EngineConfig(start_transcripts=6, max_transcripts=5)
    with pytest.raises(ValueError):
        EngineConfig(validate_from=8)
    with pytest.raises(ValueError):
        EngineConfig(transcript_budget=1.5)


def test_silenced_or_shaky_voters_do_not_confirm_a_pair():
    pair = [t("a", SENTENCE, 0.95), t("b", SENTENCE, 0.95)]
    for third in (t("spam", SENTENCE, weight=0.0), t("shaky", SENTENCE, 0.6)):
        decision = decide([*pair, third], language="en")
        assert decision.status == "need_more"
        assert "one more transcript to confirm" in decision.reason
    assert decide([*pair, t("c", SENTENCE, 0.8)], language="en").status == "validated"


def test_nobody_validates_alone_however_reliable():
    transcripts = [t("star", SENTENCE, 0.999), t("spam", "buy cheap pills", weight=0.0)]
    transcripts.append(t("spam2", "cheap pills now", weight=0.0))
    decision = decide(transcripts, language="en", config=replace(PATIENT, validate_from=2))
    assert decision.status == "need_more"


def test_empty_transcripts_are_handled_and_an_empty_consensus_is_reviewed():
    decision = decide([t("a", "", 0.9), t("b", " । ", 0.9)], language="en")
    assert decision.status == "needs_review"
    assert decision.text == "" and decision.words == ()
    assert "no words" in decision.reason
    assert decide([t("a", SENTENCE, 0.9), t("b", "", 0.9)], language="en").status == "need_more"


def test_a_rescored_chunk_stays_validated_only_if_still_validated():
    proven = [t(f"p{k}", SENTENCE, 0.95) for k in range(3)]
    still = decide(proven, language="en", config=CONFIG)
    assert still.status == "validated"
    assert rescored_status("validated", still) == "validated"
    # One of the three no longer counts (blocked): two cannot validate.
    weakened = decide([*proven[:2], replace(proven[2], weight=0.0)], language="en", config=CONFIG)
    assert weakened.status != "validated"
    # It keeps the crowd's text as accepted: a re-score does not fill the queue.
    assert rescored_status("validated", weakened) == "accepted"
    assert rescored_status("accepted", still) == "validated"
    # A finished chunk never reopens, and review is not left by a re-score.
    assert rescored_status("needs_review", weakened) == "needs_review"
    assert rescored_status("needs_review", still) == "needs_review"
