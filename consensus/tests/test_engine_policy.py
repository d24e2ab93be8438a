"""The stopping rule: every state decide() can return, and why."""

from dataclasses import replace

import pytest

from consensus.engine import (
    METHOD_VERSION,
    EngineConfig,
    Transcript,
    audit_draw,
    decide,
)

CONFIG = EngineConfig()
SENTENCE = "the quick brown fox jumps over the lazy dog"


def t(contributor: str, text: str, accuracy: float | None = None, **kwargs) -> Transcript:
    return Transcript(contributor, text, accuracy=accuracy, **kwargs)


def test_one_transcript_needs_more():
    decision = decide([t("a", SENTENCE, 0.95)], language="en")
    assert decision.status == "need_more"
    assert decision.text == SENTENCE


def test_two_newcomers_agreeing_are_not_enough_but_two_proven_are():
    newcomers = [t("a", SENTENCE), t("b", SENTENCE)]
    assert decide(newcomers, language="en").status == "need_more"
    proven = [t("a", SENTENCE, 0.9), t("b", SENTENCE, 0.9)]
    decision = decide(proven, language="en")
    assert decision.status == "validated"
    assert decision.estimated_wer < CONFIG.wer_threshold
    assert decision.min_margin >= CONFIG.margin


def test_agreeing_newcomers_validate_only_with_proven_company():
    # A newcomer counts at the prior mean (0.7): crowds have a long tail of
    # people who do a few tasks badly, so agreement among them proves little.
    assert decide([t(c, SENTENCE) for c in "abc"], language="en").status == "need_more"
    decision = decide([t("a", SENTENCE), t("b", SENTENCE), t("c", SENTENCE, 0.9)], language="en")
    assert decision.status == "validated"
    assert decision.reason == "every word clearly agreed"


def test_a_disputed_word_asks_for_one_more_transcript():
    transcripts = [t("a", SENTENCE, 0.9), t("b", SENTENCE.replace("lazy", "hazy"), 0.9)]
    decision = decide(transcripts, language="en")
    assert decision.status == "need_more"
    conf = dict(decision.words)
    assert conf["lazy"] < 0.6 < conf["quick"]


def test_the_estimated_wer_threshold_alone_can_hold_back_validation():
    proven = [t("a", SENTENCE, 0.9), t("b", SENTENCE, 0.9)]
    strict = replace(CONFIG, wer_threshold=0.005)
    assert decide(proven, language="en", config=strict).status == "need_more"


def test_no_agreement_at_the_maximum_goes_to_review():
    words = ("hazy", "crazy", "lacy", "lady", "lazy", "lazy")
    texts = [SENTENCE.replace("lazy", word) for word in words]
    config = replace(CONFIG, hopeless_wer=1.0)  # isolate the rule from the hopeless rule
    decision = decide([t(str(k), x) for k, x in enumerate(texts)], language="en", config=config)
    assert decision.status == "needs_review"
    assert "no agreement after 6" in decision.reason


def test_settled_chunk_goes_to_review_without_more_transcripts():
    texts = [SENTENCE] * 3 + [SENTENCE.replace("lazy", "hazy")]
    decision = decide([t(str(k), x) for k, x in enumerate(texts)], language="en")
    assert decision.status == "needs_review"
    assert "settled" in decision.reason
    patient = replace(CONFIG, settled_from=0)
    assert (
        decide([t(str(k), x) for k, x in enumerate(texts)], language="en", config=patient).status
        == "need_more"
    )


def test_hopeless_chunk_goes_to_review_one_transcript_early():
    texts = ["one two three four", "five six seven eight", "one two nine ten", "eleven two three"]
    texts.append("one five three ten")
    config = replace(CONFIG, wild_cer=1.0)  # isolate the rule from the CER rule
    decision = decide([t(str(k), x) for k, x in enumerate(texts)], language="en", config=config)
    assert decision.status == "needs_review"
    assert "too uncertain" in decision.reason
    lenient = replace(config, hopeless_wer=1.0)
    assert (
        decide([t(str(k), x) for k, x in enumerate(texts)], language="en", config=lenient).status
        == "need_more"
    )


def test_wildly_different_transcripts_go_to_review_from_the_third():
    texts = ["completely unrelated words here", "nothing alike at all", "zebra xylophone quartz"]
    assert decide([t("a", texts[0]), t("b", texts[1])], language="en").status == "need_more"
    decision = decide([t(c, x) for c, x in zip("abc", texts, strict=True)], language="en")
    assert decision.status == "needs_review"
    assert "disagree wildly" in decision.reason
    assert decision.mean_pairwise_cer > CONFIG.wild_cer


def test_two_flags_send_to_review_and_flagged_text_does_not_vote():
    flagged = frozenset({"unintelligible"})
    one_flag = [
        t("a", SENTENCE, 0.9),
        t("b", "garbled", 0.95, flags=flagged),
        t("c", SENTENCE, 0.9),
    ]
    decision = decide(one_flag, language="en")
    assert decision.status == "validated"
    assert decision.text == SENTENCE
    two_flags = [*one_flag, t("d", "", flags=frozenset({"wrong_language"}))]
    decision = decide(two_flags, language="en")
    assert decision.status == "needs_review"
    assert "2 transcribers flagged" in decision.reason


def test_script_confirmed_by_two_reliable_readers_validates_without_the_margin():
    config = replace(CONFIG, margin=50.0)  # the margin rule alone could never pass
    readers = [t("a", "আমি ভাত খাই।", 0.85), t("b", "আমি ভাত খাই", 0.85)]
    decision = decide(readers, prior_text="আমি ভাত খাই", language="bn", config=config)
    assert decision.status == "validated"
    assert "script confirmed" in decision.reason
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
    agreed = [t("a", SENTENCE, 0.9), t("b", SENTENCE, 0.9)]
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


def test_nobody_validates_alone_however_reliable():
    transcripts = [t("star", SENTENCE, 0.999), t("spam", "buy cheap pills", weight=0.0)]
    assert decide(transcripts, language="en").status == "need_more"


def test_empty_transcripts_are_handled_and_an_empty_consensus_is_reviewed():
    decision = decide([t("a", "", 0.9), t("b", " । ", 0.9)], language="en")
    assert decision.status == "needs_review"
    assert decision.text == "" and decision.words == ()
    assert "no words" in decision.reason
    assert decide([t("a", SENTENCE, 0.9), t("b", "", 0.9)], language="en").status == "need_more"
