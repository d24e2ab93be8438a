"""Listen-and-vote, the three outcomes, the review queue's capacity and stopping by cost."""

import math
from dataclasses import replace

import pytest

from consensus.engine import EngineConfig, Evidence, Transcript, decide
from consensus.engine.policy import match_evidence
from consensus.engine.reliability import ReliabilityState, vote_evidence
from consensus.engine.replay import Clip, ReviewQueue, replay

CONFIG = EngineConfig()
SENTENCE = "আমি প্রতিদিন সকালে নদীর ধারে হাঁটতে যাই"
TOKENS = SENTENCE.split()


def yes(who: str, accuracy: float | None = None) -> Transcript:
    return Transcript(who, "", accuracy=accuracy, vote=True)


def no(who: str, accuracy: float | None = None) -> Transcript:
    return Transcript(who, "", accuracy=accuracy, vote=False)


def typed(who: str, text: str, accuracy: float | None = None) -> Transcript:
    return Transcript(who, text, accuracy=accuracy)


def test_two_newcomers_yes_validate_the_sentence():
    one = decide([yes("a")], prior_text=SENTENCE, language="bn")
    assert one.status == "need_more" and one.next_mode == "verify"
    two = decide([yes("a"), yes("b")], prior_text=SENTENCE, language="bn")
    assert two.status == "validated"
    assert two.text == SENTENCE and two.normalized_text == " ".join(TOKENS)
    # prior 0.9 (log-odds 2.20) + two yes at 0.8 (1.39 each) = 4.97 ≥ logit(0.985)
    assert two.match_probability == pytest.approx(1 / (1 + math.exp(-4.9698)), abs=1e-3)
    assert two.match_probability >= CONFIG.match_validate
    assert all(c == pytest.approx(two.match_probability) for _, c in two.words)


def test_one_listener_alone_never_validates_however_proven():
    decision = decide([yes("star", 0.999)], prior_text=SENTENCE, language="bn")
    assert decision.match_probability > CONFIG.match_validate
    assert decision.status == "need_more" and decision.next_mode == "verify"


def test_a_silenced_listener_confirms_nothing():
    votes = [Transcript("spam", "", weight=0.0, vote=True), yes("a")]
    decision = decide(votes, prior_text=SENTENCE, language="bn")
    assert decision.status == "need_more"
    assert "spam" in decision.silenced_contributors


def test_a_no_nobody_contradicts_moves_the_chunk_to_transcription():
    decision = decide([no("a")], prior_text=SENTENCE, language="bn")
    assert decision.status == "need_more"
    assert decision.next_mode == "transcribe"
    # No outnumbering the yes: the reading likely differs, typing decides.
    outvoted = decide([yes("a"), no("b"), no("c")], prior_text=SENTENCE, language="bn")
    assert outvoted.status == "need_more" and outvoted.next_mode == "transcribe"
    # A typed transcript equal to the sentence counts as a yes and settles it.
    settled = decide([yes("a"), no("b"), typed("c", SENTENCE)], prior_text=SENTENCE, language="bn")
    assert settled.status == "validated" and settled.text == SENTENCE


def test_a_split_vote_asks_one_more_listener():
    split = [yes("a"), no("b")]
    decision = decide(split, prior_text=SENTENCE, language="bn")
    assert decision.status == "need_more"
    assert decision.next_mode == "verify"
    assert "split on the sentence" in decision.reason
    evidence = match_evidence(split, TOKENS, CONFIG)
    assert evidence.contradictions == 1 and evidence.typed_contradictions == 0
    # Listeners who proved themselves (0.9) settle it with the third vote.
    proven = [yes("a", 0.9), no("b", 0.9), yes("c", 0.9)]
    third = decide(proven, prior_text=SENTENCE, language="bn")
    assert third.status == "validated" and third.text == SENTENCE
    # A no typed after a no is not a split: nobody confirmed the sentence.
    typed_no = decide([no("a"), typed("b", "অন্য কথা")], prior_text=SENTENCE, language="bn")
    assert typed_no.next_mode == "transcribe"
    # Below ``match_doubt`` the chunk is typed, split or not.
    doubtful = replace(CONFIG, match_doubt=0.95)
    assert decide(split, prior_text=SENTENCE, language="bn", config=doubtful).next_mode == (
        "transcribe"
    )


def test_a_confirmed_sentence_and_a_typo_ask_a_listener_not_a_reviewer():
    # One listener confirmed; a typist wrote one extra word.
    judgements = [yes("a"), typed("b", SENTENCE + " তো", 0.9)]
    decision = decide(judgements, prior_text=SENTENCE, language="bn")
    assert decision.status == "need_more"
    assert decision.next_mode == "verify"
    # The typo is weak evidence against the sentence: a 90% typist misses
    # some word of a 7-word sentence more often than not.
    evidence = match_evidence(judgements, TOKENS, CONFIG)
    assert evidence.probability > CONFIG.script_prior - 0.05
    assert evidence.typed_contradictions == 1
    # A second yes settles it (P 0.987).
    settled = decide([*judgements, yes("c")], prior_text=SENTENCE, language="bn")
    assert settled.status == "validated" and settled.text == SENTENCE
    # Two typists who wrote something else say the reading differs: typing decides.
    other = [*judgements, typed("c", SENTENCE.replace("নদীর", "পুকুরের"), 0.9)]
    assert decide(other, prior_text=SENTENCE, language="bn").next_mode == "transcribe"


def test_two_typists_who_slip_once_each_are_not_sent_to_review():
    slips = [
        typed("a", SENTENCE.replace("নদীর", "নদির"), 0.9),
        typed("b", SENTENCE.replace("সকালে", ""), 0.9),
    ]
    decision = decide(slips, prior_text=SENTENCE, language="bn")
    assert decision.status == "need_more"
    third = decide([*slips, typed("c", SENTENCE, 0.9)], prior_text=SENTENCE, language="bn")
    assert third.status in ("validated", "accepted")
    assert third.text == SENTENCE


def test_when_no_dominates_the_sentence_stops_voting_on_the_text():
    heard = "আমি প্রতিদিন বিকেলে নদীর ধারে হাঁটতে যাই"
    judgements = [no("a", 0.95), no("b", 0.95), no("c", 0.95)]
    judgements += [typed(w, heard, 0.95) for w in "def"]
    decision = decide(judgements, prior_text=SENTENCE, language="bn")
    assert decision.match_probability < CONFIG.match_reject
    assert decision.status == "validated"
    assert decision.text == heard


def test_listeners_and_typists_disagreeing_at_the_maximum_go_to_review():
    # Reviewers priced so high that doubt alone would never pay for one.
    config = replace(CONFIG, reviewer_price=100.0)
    judgements = [yes("a", 0.95), no("b", 0.95), yes("c", 0.95), no("d", 0.95)]
    heard = ("পুকুরের", "খালের", "বিলের")
    judgements += [
        typed(w, SENTENCE.replace("নদীর", x), 0.75) for w, x in zip("efg", heard, strict=True)
    ]
    assert len(judgements) == config.max_transcripts
    decision = decide(judgements, prior_text=SENTENCE, language="bn", config=config)
    assert config.match_reject < decision.match_probability < config.match_validate
    assert decision.status == "needs_review"
    assert "the sentence is disputed" in decision.reason
    full = decide(judgements, prior_text=SENTENCE, language="bn", config=config, review_room=False)
    assert full.status == "accepted"


def test_a_full_review_queue_asks_one_more_volunteer_instead():
    sentence = "the quick brown fox jumps over the lazy dog"
    # Reviews so cheap that one is worth more than a fourth transcript.
    config = replace(CONFIG, reviewer_price=0.3, stop_expected_errors=0.01)
    texts = [sentence, sentence.replace("lazy", "hazy"), sentence.replace("fox", "box")]
    transcripts = [typed(str(k), x, 0.8) for k, x in enumerate(texts)]
    decision = decide(transcripts, language="en", config=config)
    assert decision.status == "needs_review" and "a review pays" in decision.reason
    full = decide(transcripts, language="en", config=config, review_room=False)
    assert full.status == "need_more" and "review queue full" in full.reason


def test_volunteers_are_asked_while_they_remove_more_wrong_words_per_second_than_a_review():
    sentence = "the quick brown fox jumps over the lazy dog"
    texts = [sentence, sentence.replace("lazy", "hazy"), sentence.replace("fox", "box")]
    transcripts = [typed(str(k), x, 0.8) for k, x in enumerate(texts)]
    patient = replace(CONFIG, stop_expected_errors=0.01, wrong_word_value=1e6)
    # A reviewer's second costs 10 volunteer seconds: a fourth volunteer is cheaper.
    assert decide(transcripts, language="en", config=patient).status == "need_more"
    # At 0.3 the reviewer is the better buy, and with a wrong word worth this
    # much the review pays.
    pricey = replace(patient, reviewer_price=0.3)
    assert decide(transcripts, language="en", config=pricey).status == "needs_review"
    # Longer clips cost more per transcript: the choice is priced by duration.
    short = decide(transcripts, language="en", config=patient, duration=2.0)
    assert short.status == "need_more"


def test_costs_scale_with_the_clip_and_the_reviewers_price():
    assert CONFIG.cost("vote", 4.0) == 7.0
    assert CONFIG.cost("transcript", 4.0) == 21.0
    assert CONFIG.cost("review", 4.0) == CONFIG.reviewer_price * 34.0


def test_vote_evidence_judges_each_listener_by_the_others():
    judgements = [yes("a"), yes("b"), yes("c"), no("lazy")]
    evidence = vote_evidence(judgements, prior_text=SENTENCE, config=CONFIG)
    assert evidence["a"].agree == 1 and evidence["a"].disagree == 0
    assert evidence["lazy"].agree == 0 and evidence["lazy"].disagree == 1
    # A question the others left open teaches nothing.
    split = vote_evidence([yes("a"), no("b"), no("c")], prior_text=SENTENCE, config=CONFIG)
    assert split == {}
    # A reviewer's text settles it, and counts more.
    reviewed = vote_evidence(
        [yes("a"), no("b")], prior_text=SENTENCE, config=CONFIG, reviewed_text="অন্য কথা"
    )
    assert reviewed["a"].disagree == CONFIG.reviewer_evidence_weight
    assert reviewed["b"].agree == CONFIG.reviewer_evidence_weight


def test_a_random_clicker_is_silenced_and_careful_listeners_gain_weight():
    state = ReliabilityState(CONFIG, listening=True)
    assert state.weight("new", "bn") == pytest.approx(math.log(0.8 / 0.2))
    for k in range(40):
        truth = k % 5 != 0
        judgements = [
            Transcript(w, "", weight=state.weight(w, "bn"), vote=truth) for w in ("a", "b")
        ]
        judgements.append(Transcript("clicker", "", weight=state.weight("clicker", "bn"),
                                     vote=k % 2 == 0))  # fmt: skip
        state.update_many(vote_evidence(judgements, prior_text=SENTENCE, config=CONFIG), "bn")
    assert state.weight("a", "bn") > math.log(0.8 / 0.2)
    # Judged only where the others settled the question, a coin-flipper sinks
    # toward 0.5 accuracy: a fraction of a newcomer's weight.
    assert state.weight("clicker", "bn") < 0.35
    # One who always says no on sentences read as written is silenced.
    for _ in range(30):
        judgements = [Transcript(w, "", weight=state.weight(w, "bn"), vote=True) for w in "ab"]
        judgements.append(Transcript("nay", "", weight=state.weight("nay", "bn"), vote=False))
        state.update_many(vote_evidence(judgements, prior_text=SENTENCE, config=CONFIG), "bn")
    assert state.weight("nay", "bn") == 0.0


def test_replay_serves_votes_first_and_counts_each_kind():
    reference = SENTENCE
    clips = [
        Clip(
            clip_id=f"c{k}",
            reference=reference,
            transcripts=tuple((f"t{k}-{j}", reference, frozenset()) for j in range(3)),
            prior_text=SENTENCE,
            votes=tuple((f"v{k}-{j}", True) for j in range(3)),
            duration=4.0,
        )
        for k in range(20)
    ]
    report = replay(clips, seed=0, config=CONFIG, language="bn", batch_reestimation=False)
    assert report["mean_votes"] == 2.0 and report["mean_transcripts"] == 0.0
    assert report["validated_rate"] == 1.0 and report["consensus_wer"] == 0.0


def test_the_review_queue_holds_what_reviewers_clear_in_a_day():
    queue = ReviewQueue(per_day=2, clips_per_day=10)
    assert queue.room
    queue.finish("needs_review")
    queue.finish("needs_review")
    assert not queue.room
    for _ in range(8):
        queue.finish("accepted")
    assert queue.room  # a day's reviews cleared the queue
    assert ReviewQueue().room


# --- Reading reliability ------------------------------------------------------------


def test_a_proven_readers_sentence_settles_a_split_with_the_third_vote():
    split = [yes("a", 0.86), no("b", 0.86), yes("c", 0.86)]
    # A new reader's sentence starts at the script prior: 0.980, one more listener.
    new = decide(split, prior_text=SENTENCE, language="bn")
    assert new.status == "need_more" and new.next_mode == "verify"
    # A reader whose chunks said their sentence 95% of the time: 0.991.
    proven = replace(CONFIG, reader_accuracy=0.95)
    decision = decide(split, prior_text=SENTENCE, language="bn", config=proven)
    assert decision.status == "validated" and decision.text == SENTENCE
    # However proven the reader, one yes is still one confirmation.
    best = replace(CONFIG, reader_accuracy=CONFIG.max_reader_accuracy)
    assert decide([yes("a")], prior_text=SENTENCE, language="bn", config=best).status == (
        "need_more"
    )
    # A careless reader's sentence needs more than two newcomers' yes.
    careless = replace(CONFIG, reader_accuracy=CONFIG.min_reader_accuracy)
    two = decide([yes("a"), yes("b")], prior_text=SENTENCE, language="bn", config=careless)
    assert two.status == "need_more" and two.next_mode == "verify"


def test_reading_evidence_leaves_the_reader_out():
    from consensus.engine import Reliability, reading_accuracy, reading_evidence, reading_prior

    def judged(transcripts, config=CONFIG, **kwargs):
        return reading_evidence(transcripts, prior_text=SENTENCE, config=config, **kwargs)

    # Two listeners who proved themselves say the sentence was read: +1.
    assert judged([yes("a", 0.86), yes("b", 0.86)]) == Evidence(1.0, 0.0)
    # Two no and a typist who wrote something else: read otherwise.
    other = SENTENCE.replace("নদীর", "পুকুরের")
    assert judged([no("a"), no("b"), typed("c", other)]) == Evidence(0.0, 1.0)
    # A split teaches nothing, and neither does the reader's own record: one
    # newcomer's yes beside a proven reader's prior (0.99 in all) is not
    # enough without the prior (0.8).
    assert judged([yes("a"), no("b")]) is None
    proven = replace(CONFIG, reader_accuracy=CONFIG.max_reader_accuracy)
    assert judged([yes("a")], proven) is None
    # A reviewer's text is compared with the sentence, counted 3 times.
    assert judged([yes("a")], reviewed_text=SENTENCE) == Evidence(3.0, 0.0)
    assert judged([yes("a")], reviewed_text=other) == Evidence(0.0, 3.0)
    assert reading_evidence([yes("a")], prior_text=None, config=CONFIG) is None
    # A new reader starts at the script prior; a record moves them, within bounds.
    assert reading_prior(CONFIG).accuracy == pytest.approx(CONFIG.script_prior)
    assert reading_accuracy(Reliability(99.0, 1.0), CONFIG) == CONFIG.max_reader_accuracy
    assert reading_accuracy(Reliability(1.0, 99.0), CONFIG) == CONFIG.min_reader_accuracy
    assert reading_accuracy(Reliability(93.0, 7.0), CONFIG) == pytest.approx(0.93)


def test_a_reader_accuracy_outside_the_bounds_is_refused():
    with pytest.raises(ValueError, match="reader bounds"):
        replace(CONFIG, reader_accuracy=0.99)
    with pytest.raises(ValueError, match="reader bounds"):
        replace(CONFIG, reader_accuracy=0.2)


# --- Nobody left to ask -------------------------------------------------------------


@pytest.mark.parametrize(
    "judgements, prior",
    [
        ([yes("a")], SENTENCE),
        ([yes("a"), no("b")], SENTENCE),
        ([no("a")], SENTENCE),
        ([typed("a", SENTENCE)], None),
        ([typed("a", SENTENCE), typed("b", SENTENCE.replace("নদীর", "নদির"))], None),
    ],
)
def test_with_nobody_left_to_ask_a_chunk_is_finished_with_what_it_has(judgements, prior):
    asks = decide(judgements, prior_text=prior, language="bn")
    assert asks.status == "need_more"
    for room in (True, False):
        done = decide(
            judgements, prior_text=prior, language="bn", review_room=room, more_answers=False
        )
        assert done.status in ("validated", "accepted", "needs_review")
        assert room or done.status != "needs_review"


def test_a_sentence_nobody_contradicted_stands_at_its_posterior_when_nobody_is_left():
    one = decide([yes("a")], prior_text=SENTENCE, language="bn", more_answers=False)
    # prior 0.9 and one newcomer's yes: 0.973, 7 words → 0.19 expected wrong
    # words, worth less than a review: accepted, with the sentence.
    assert one.status == "accepted" and one.text == SENTENCE
    assert one.match_probability == pytest.approx(0.973, abs=1e-3)
    assert one.expected_errors == pytest.approx((1 - one.match_probability) * len(TOKENS))
    assert "settled by the crowd" in one.reason
    # A yes and a no leave it at the script prior (0.9): 0.7 expected wrong
    # words, and a review pays for them when the queue has room.
    split = decide([yes("a"), no("b")], prior_text=SENTENCE, language="bn", more_answers=False)
    assert split.status == "needs_review" and split.text == SENTENCE
    assert "a review pays" in split.reason
