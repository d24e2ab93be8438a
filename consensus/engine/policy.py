"""The stopping rule: validate, ask for one more transcript, or send to review."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from transcriptions.normalize import tokenize, tokenize_with_raw

from .schema import (
    METHOD_VERSION,
    Decision,
    EngineConfig,
    Mode,
    Status,
    Transcript,
    transcript_weight,
    weight_from_accuracy,
)
from .vote import Consensus, Voter, combine, mean_pairwise_cer

_DEFAULT_CONFIG = EngineConfig()


def audit_draw(key: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by ``key``: the same chunk always draws
    the same number, so audit sampling is reproducible without stored state."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def build_voters(
    transcripts: Sequence[Transcript], prior_text: str | None, config: EngineConfig
) -> tuple[list[Voter], list[int]]:
    """Voters in input order (the script prior last) and, for each transcript
    that votes, its index among the voters (-1 when it does not vote).

    Only typed transcripts vote on the text. A transcript flagged
    unintelligible or wrong-language does not: its text, if any, is a guess its
    own author disowned. A listener's yes or no is evidence about the script
    sentence (:func:`match_evidence`), not a text.
    """
    voters: list[Voter] = []
    index: list[int] = []
    for transcript in transcripts:
        if transcript.vote is not None or transcript.flags & config.review_flags:
            index.append(-1)
            continue
        tokens, raws = tokenize_with_raw(transcript.raw_text)
        index.append(len(voters))
        voters.append(Voter(tokens, raws, transcript_weight(transcript, config)))
    if prior_text is not None and config.prior_weight > 0.0:
        tokens, raws = tokenize_with_raw(prior_text)
        voters.append(Voter(tokens, raws, config.prior_weight))
    return voters, index


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True, slots=True)
class MatchEvidence:
    """How strongly the judgements say the chunk is its script sentence, read as written."""

    log_odds: float
    confirmations: int  # a counted yes, or the sentence typed word for word
    contradictions: int  # a counted no, or a typed transcript that differs
    typed_contradictions: int = 0  # of those, typed transcripts that differ

    @property
    def probability(self) -> float:
        return _sigmoid(self.log_odds)

    def split(self, config: EngineConfig) -> bool:
        """Whether one more listener should settle the sentence: someone
        confirmed it, listeners' no does not outnumber the confirmations, the
        posterior is still at least ``match_doubt``, and fewer than
        ``start_transcripts`` typists wrote something else (that many
        differing transcripts say the reading differs, and typing decides)."""
        refusals = self.contradictions - self.typed_contradictions
        return (
            self.confirmations >= 1
            and refusals <= self.confirmations
            and self.typed_contradictions < config.start_transcripts
            and self.probability >= config.match_doubt
        )


def listener_weight(transcript: Transcript, config: EngineConfig) -> float:
    """A vote's weight: the caller's listening weight, or a newcomer's."""
    if transcript.weight is not None:
        return max(0.0, transcript.weight)
    accuracy = transcript.accuracy
    if accuracy is None:
        accuracy = config.listener_prior_mean
    return weight_from_accuracy(min(accuracy, config.max_accuracy))


def match_evidence(
    transcripts: Sequence[Transcript], sentence: Sequence[str], config: EngineConfig,
    *, exclude: int = -1,
) -> MatchEvidence:  # fmt: skip
    """Sum the evidence that the chunk says exactly ``sentence`` (normalised tokens).

    Yes and no count their listener's weight. A typed transcript equal to the
    sentence counts ``typed_match_weight`` (the typist never saw it); one that
    differs counts log P(a typist of this accuracy differs | it matches), a weak
    no for a long sentence, where even good typists slip. Flagged transcripts
    and silenced people count nothing; only people at least as reliable as a
    newcomer confirm. ``exclude`` leaves one judgement out (leave-one-out).
    """
    log_odds = _logit(config.sentence_prior)
    confirmations = contradictions = typed_contradictions = 0
    reliable_listener = weight_from_accuracy(config.listener_prior_mean) - 1e-9
    reliable_typist = weight_from_accuracy(config.reliable_accuracy) - 1e-9
    for number, transcript in enumerate(transcripts):
        if number == exclude or transcript.flags & config.review_flags:
            continue
        if transcript.vote is not None:
            weight = listener_weight(transcript, config)
            if weight <= 0.0:
                continue
            log_odds += weight if transcript.vote else -weight
            if transcript.vote and weight >= reliable_listener:
                confirmations += 1
            elif not transcript.vote:
                contradictions += 1
            continue
        weight = transcript_weight(transcript, config)
        if weight <= 0.0:
            continue
        if tokenize(transcript.raw_text) == list(sentence):
            log_odds += config.typed_match_weight
            confirmations += weight >= reliable_typist
        else:
            exact = _sigmoid(weight) ** len(sentence)
            log_odds += math.log(max(1e-9, 1.0 - exact))
            contradictions += 1
            typed_contradictions += 1
    return MatchEvidence(log_odds, confirmations, contradictions, typed_contradictions)


def _duration(duration: float | None, words: int) -> float:
    """The clip's length; without one, read at about 150 words a minute."""
    if duration is not None and duration > 0:
        return duration
    return max(1.0, words / 2.5)


def decide(
    transcripts: Sequence[Transcript],
    *,
    prior_text: str | None = None,
    language: str,
    config: EngineConfig = _DEFAULT_CONFIG,
    audit_key: str | None = None,
    duration: float | None = None,
    review_room: bool = True,
    more_answers: bool = True,
) -> Decision:
    """Decide what a chunk says from the judgements collected so far.

    ``transcripts`` holds typed transcripts, listeners' votes on the script
    sentence (``Transcript.vote``) and reports (flags only). ``duration`` (the
    clip's seconds) prices the next judgement; ``review_room`` is False when the
    language's review queue already holds more than reviewers can clear;
    ``more_answers`` is False when nobody is left to ask (every active
    volunteer of the language has answered): the chunk is finished with what
    it has, as at the maximum.

    Pure and deterministic: the same inputs give the same decision, including
    the audit draw, which depends only on ``audit_key`` (e.g. the chunk id).
    Rules, first match wins:

    1. ``flags_for_review`` judgements flag the audio → needs_review.
    2. A chunk with a script sentence: the posterior that it says the sentence
       reaches ``match_validate`` with ``min_confirmations`` → validated. While
       nobody has contradicted the sentence, or while the evidence is split
       (:meth:`MatchEvidence.split`) → need_more, listen-and-vote.
    3. Otherwise the typed transcripts decide (the sentence votes with them
       unless the evidence set it aside): fewer than ``start_transcripts`` →
       need_more; no words agreed → needs_review; ``validate_from`` reliable
       typists wrote the consensus word for word, or every slot's winner
       leads by ``margin`` with that many reliable voters → validated.
    4. Transcripts that share nothing (mean pairwise CER above ``wild_cer``)
       → needs_review.
    5. Settled → accepted: one more transcript would remove fewer expected
       wrong words than its cost is worth (``wrong_word_value``), or the
       expected wrong words are under ``stop_expected_errors``, which the
       platform raises only while the language spends over its budget.
    6. Under ``max_transcripts`` and one more transcript removes more expected
       wrong words per volunteer second than a review → need_more.
    7. A review is worth its price (its expected wrong words, valued at
       ``wrong_word_value``, exceed the reviewer's cost), or the judgements
       contradict each other about the sentence → needs_review while the
       queue has room, else one more volunteer while under the maximum.
    8. Otherwise → accepted.

    A validated decision is marked for audit with probability ``audit_rate``;
    the caller sends it to review as well and keeps the status.
    """
    count = len(transcripts)
    sentence = tokenize(prior_text) if prior_text is not None else []
    match = match_evidence(transcripts, sentence, config) if sentence else None
    # The sentence votes on the text until the evidence sets it aside.
    rover_prior = (
        prior_text if match is not None and match.probability > config.match_reject else None
    )
    voters, voter_index = build_voters(transcripts, rover_prior, config)
    consensus = combine(voters, null_factor=config.null_vote_factor)
    own = [voters[k] for k in voter_index if k >= 0]
    silenced = tuple(
        t.contributor_id
        for t, k in zip(transcripts, voter_index, strict=True)
        if (k >= 0 and voters[k].weight <= 0.0)
        or (t.vote is not None and listener_weight(t, config) <= 0.0)
    )
    # Silenced voters are left out: one known spammer must not make an
    # otherwise agreeing chunk look wildly disputed.
    heard = [" ".join(v.tokens) for v in own if v.weight > 0.0]
    if len(heard) < 2:
        heard = [" ".join(v.tokens) for v in own]
    cer = mean_pairwise_cer(heard)
    seconds = _duration(duration, len(consensus.tokens) or len(sentence))
    status, reason, mode, outcome = _status(
        transcripts, own, consensus, cer, match, config, seconds, review_room,
        more_answers=more_answers, sentence_words=len(sentence),
    )  # fmt: skip
    text, tokens, confidences = consensus.text, consensus.tokens, consensus.confidences
    expected, estimated, margin = (
        consensus.expected_errors,
        consensus.estimated_wer,
        consensus.min_margin,
    )
    if outcome == "sentence":
        probability = match.probability
        text, tokens = prior_text.strip(), list(sentence)
        confidences = [probability] * len(tokens)
        expected = (1.0 - probability) * len(tokens)
        estimated, margin = 1.0 - probability, match.log_odds
    audit = (
        status == "validated"
        and audit_key is not None
        and audit_draw(audit_key, config.audit_salt) < config.audit_rate
    )
    return Decision(
        status=status,
        text=text,
        normalized_text=" ".join(tokens),
        words=tuple(zip(tokens, confidences, strict=True)),
        estimated_wer=estimated,
        expected_errors=expected,
        reason=reason,
        audit=audit,
        method_version=METHOD_VERSION,
        language=language,
        transcript_count=count,
        min_margin=margin,
        mean_pairwise_cer=cer,
        silenced_contributors=silenced,
        match_probability=match.probability if match is not None else None,
        next_mode=mode,
        review_gain=expected,
    )


def _status(
    transcripts: Sequence[Transcript],
    own: Sequence[Voter],
    consensus: Consensus,
    cer: float,
    match: MatchEvidence | None,
    config: EngineConfig,
    seconds: float,
    review_room: bool,
    *,
    more_answers: bool = True,
    sentence_words: int = 0,
) -> tuple[Status, str, Mode, str]:
    """The stopping rule proper (see :func:`decide`): status, reason, the next
    volunteer's task, and which text stands ("sentence" or "consensus")."""
    count = len(transcripts)
    under_ceiling = count < config.max_transcripts and more_answers
    reliable = weight_from_accuracy(config.reliable_accuracy)
    flagged = sum(1 for t in transcripts if t.flags & config.review_flags)
    if flagged >= config.flags_for_review:
        return "needs_review", f"{flagged} people flagged the audio", "transcribe", "consensus"

    if match is not None:
        p = match.probability
        if p >= config.match_validate and match.confirmations >= config.min_confirmations:
            return (
                "validated",
                f"says its sentence (P {p:.3f}, {match.confirmations} confirmed)",
                "verify",
                "sentence",
            )
        if not match.contradictions and under_ceiling:
            return "need_more", f"sentence not yet confirmed (P {p:.3f})", "verify", "sentence"
        if match.split(config) and under_ceiling:
            # A yes beside a no (or a typo) is most often a wrong click or a
            # slip: one more listener settles it for the price of a vote.
            return "need_more", f"split on the sentence (P {p:.3f})", "verify", "sentence"
        if not more_answers and (not match.contradictions or match.split(config)):
            # Nobody is left to ask while the sentence is still the likeliest
            # text: it stands, at its posterior, and a review is priced on
            # the words it is expected to get wrong.
            expected = (1.0 - p) * sentence_words
            doubt = f"{expected:.2f} expected wrong words, estimated WER {1.0 - p:.1%}"
            review = config.cost("review", seconds)
            if expected * config.wrong_word_value >= review and review_room:
                return "needs_review", f"a review pays: {doubt}", "verify", "sentence"
            return "accepted", f"settled by the crowd: {doubt}", "verify", "sentence"

    typed = sum(1 for t in transcripts if t.vote is None and not t.flags & config.review_flags)
    if typed < config.start_transcripts and under_ceiling:
        return "need_more", f"{typed} of {config.start_transcripts} transcripts", "transcribe", ""
    if not consensus.tokens:
        # Speech chunks are cut around speech: agreeing on nothing means
        # lazy or broken submissions more often than a silent chunk.
        return "needs_review", "the transcripts agree on no words", "transcribe", "consensus"

    if consensus.min_margin >= config.margin and consensus.estimated_wer <= config.wer_threshold:
        # Two people who agree on every word can still share a mishearing
        # (hard audio breeds the same wrong word), so validation waits for
        # ``validate_from`` reliable voters: a silenced or floored voter
        # confirms nothing.
        if sum(1 for v in own if v.weight >= reliable) >= config.validate_from:
            return "validated", "every word clearly agreed", "transcribe", "consensus"
        if under_ceiling:
            return (
                "need_more",
                "every word agreed; one more transcript to confirm",
                "transcribe",
                "consensus",
            )

    # Newcomers' weights never pass the margin, yet ``validate_from`` people
    # who typed the same words independently are rarely all wrong the same way,
    # unless others heard it differently: counting agreement beside dissent
    # raised validated WER on CrowdSpeech dev-other from 1.4% to 4.7%. So the
    # word-for-word typists must outnumber everyone else who counts by that many.
    same = [list(v.tokens) == consensus.tokens for v in own if v.weight > 0.0]
    exact = sum(1 for v in own if v.weight >= reliable and list(v.tokens) == consensus.tokens)
    if exact - same.count(False) >= config.validate_from:
        return (
            "validated",
            f"{exact} transcripts agree word for word",
            "transcribe",
            "consensus",
        )

    if len(own) >= config.wild_min_transcripts and cer > config.wild_cer:
        return (
            "needs_review",
            f"transcripts disagree wildly (mean CER {cer:.2f})",
            "transcribe",
            "consensus",
        )

    expected = consensus.expected_errors
    estimated = consensus.estimated_wer
    doubt = f"{expected:.2f} expected wrong words, estimated WER {estimated:.1%}"
    gain = config.transcript_gain / max(1, typed)
    transcript = config.cost("transcript", seconds)
    review = config.cost("review", seconds)
    # Stop when one more transcript would remove fewer wrong words than its
    # cost buys (a wrong word is worth ``wrong_word_value`` volunteer seconds),
    # or when the language's transcript budget says so: the platform raises
    # ``stop_expected_errors`` only while chunks cost more than the budget.
    settle = max(config.stop_expected_errors, transcript / (gain * config.wrong_word_value))
    if expected <= settle:
        return "accepted", f"settled: {doubt}", "transcribe", "consensus"
    if under_ceiling and gain * review >= transcript:
        # One more volunteer removes more expected wrong words per second of
        # people's time than a reviewer would.
        return "need_more", f"uncertain: {doubt}", "transcribe", "consensus"
    worth = expected * config.wrong_word_value >= review
    disputed = match is not None and config.match_reject < match.probability
    if worth or disputed:
        if review_room:
            why = "the sentence is disputed" if disputed and not worth else "a review pays"
            return "needs_review", f"{why}: {doubt}", "transcribe", "consensus"
        if under_ceiling:
            return "need_more", f"review queue full: {doubt}", "transcribe", "consensus"
    return "accepted", f"settled by the crowd: {doubt}", "transcribe", "consensus"


def rescored_status(previous: Status, decision: Decision) -> Status:
    """Where a finished chunk stands after it is decided again with new weights
    (after the batch re-estimation, or once a contributor is blocked).

    Only the text and the weights change, never the number of judgements, so
    a finished chunk never goes back to asking for more. A chunk in review
    stays there. Otherwise the new weights may validate a chunk the crowd
    had only accepted, or take validation away from one (it stays accepted,
    with its confidence); only a reason for review the new weights reveal
    (transcripts that share nothing, no agreed word) sends it to a reviewer.
    """
    if previous == "needs_review":
        return "needs_review"
    if decision.status in ("validated", "needs_review"):
        return decision.status
    return "accepted"
