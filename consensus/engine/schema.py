"""Plain data types shared by the engine and its callers (no Django here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

# Bumped whenever a change could alter a decision for the same inputs, so a
# stored decision can always be traced to the rules that produced it.
METHOD_VERSION = "rover-vote-7"

# validated: high confidence. accepted: the crowd settled on a text below that
# bar (kept with its confidences). needs_review: a reviewer adds most here.
Status = Literal["validated", "accepted", "need_more", "needs_review"]
# What a chunk that needs more asks of the next volunteer.
Mode = Literal["verify", "transcribe"]

REVIEW_FLAGS = frozenset({"unintelligible", "wrong_language"})


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Every threshold of the engine. Defaults were chosen on the CrowdSpeech
    dev splits (see docs/consensus.md for the curves and the commands)."""

    # Stopping rule.
    start_transcripts: int = 2
    max_transcripts: int = 7
    # Log-odds lead every slot's winner needs over its runner-up (the runner-up
    # may be "a word nobody wrote", scored 0). Two agreeing workers of
    # accuracy 0.85 lead by 2 × logit(0.85) ≈ 3.47, which is not enough: on
    # CrowdSpeech dev-other they are still wrong on >3% of words. Two proven
    # ones (≥ 0.87 each) are; newcomers (prior mean 0.7) need proven company.
    margin: float = 3.8
    wer_threshold: float = 0.04
    # Transcripts a chunk needs before it can be validated by agreement alone:
    # two people who agree on every word can still share a mishearing (on
    # CrowdSpeech dev-other, pairs of proven transcribers typing the same
    # text were wrong on 7.6% of words), so an agreeing pair asks for a third.
    validate_from: int = 3
    # Mean pairwise character error rate above which transcripts are "wildly
    # different": they share almost nothing, the audio is likely unusable. High
    # on purpose: on the dev splits, chunks at CER 0.5–0.8 still gained from
    # more transcripts (the disagreement is often one spammer or one lost
    # half-sentence), and stopping them early cost accuracy.
    wild_cer: float = 0.9
    # With two transcripts one spammer is enough to look wild; a third decides.
    wild_min_transcripts: int = 3
    # The transcript budget as a ceiling: a chunk that is not validated is
    # accepted once the expected number of wrong words in its text is at most
    # this, whatever one more transcript would be worth. A count, not a rate:
    # one more transcript fixes words, so a long chunk with the same error rate
    # as a short one gains more from it. The platform moves it after every
    # finished chunk (see :func:`budget_threshold`): it climbs while chunks
    # cost more than ``transcript_budget`` and sinks to the bottom of its range
    # otherwise, where the price of people's time alone decides. This is the
    # starting point.
    stop_expected_errors: float = 0.3
    # Mean transcripts per chunk the stopping threshold steers to. 4.4 keeps
    # the CrowdSpeech dev splits under a budget of 4.5 with room for the
    # controller's wander.
    transcript_budget: float = 4.4
    # How fast the threshold follows: after each finished chunk it is
    # multiplied by exp(budget_step × (transcripts used − budget)).
    budget_step: float = 0.01
    flags_for_review: int = 2
    review_flags: frozenset[str] = REVIEW_FLAGS
    # Weight of the script sentence as a voter (log-odds units): one reader
    # who agrees with it outvotes one who does not, two readers outvote it.
    prior_weight: float = 1.0
    # A NULL vote counts this fraction of a word vote (see vote.vote_slot).
    null_vote_factor: float = 0.7
    # A contributor must be at least this accurate for their exact agreement
    # with the script to count as confirmation: at least as good as a
    # newcomer (the prior mean), so two new readers who both type the script
    # confirm it, and anyone proven worse does not.
    reliable_accuracy: float = 0.7
    audit_rate: float = 0.02
    audit_salt: str = "shrutik-audit"

    # Listen-and-vote on chunks that carry their script sentence. The evidence
    # that a chunk says exactly its sentence is a log-odds sum: the prior that
    # a reader read a sentence as written, each listener's yes (+) or no (-)
    # weighted by their own listening reliability, and each typed transcript
    # (typists never see the sentence, so one that equals it is strong
    # evidence, one that differs weak evidence: it may hold a typo).
    script_prior: float = 0.9
    # Posterior at which the chunk is validated with its sentence, once at
    # least ``min_confirmations`` people confirmed it (a yes, or the sentence
    # typed word for word): two newcomers' yes reach it on a fresh platform
    # (0.993), and so do two proven listeners' yes beside one typist's slip.
    match_validate: float = 0.985
    min_confirmations: int = 2
    # A split (someone confirmed the sentence, someone contradicted it) whose
    # posterior is still at least this asks one more listener: a wrong click
    # or a typo is likelier than a misread sentence, and a vote is the
    # cheapest judgement that settles which. Below it the chunk is typed.
    match_doubt: float = 0.5
    # Below this posterior the sentence is set aside: the chunk is transcribed,
    # and the sentence no longer votes on its text.
    match_reject: float = 0.1
    # Log-likelihood ratio of a typed transcript equal to the sentence.
    typed_match_weight: float = 3.0
    # Listening reliability: a newcomer's yes/no is right this often, until
    # their votes' agreement with settled chunks says otherwise.
    listener_prior_mean: float = 0.8
    listener_prior_strength: float = 10.0
    # Votes of evidence before a listener under 0.5 is silenced.
    min_evidence_votes: float = 20.0
    # Reading reliability: how often a reader's chunks say their sentence as
    # written. A new reader starts at ``script_prior``, worth this many
    # readings; each finished chunk whose judgements settled the question
    # without the reader (``reading_evidence_confidence`` either way) moves it.
    # Readers differ: some read every word, some improvise, skip or repeat,
    # and their sentence deserves more or less belief before anyone listens.
    reader_prior_strength: float = 20.0
    reading_evidence_confidence: float = 0.9
    # Never more than this, so a proven reader's sentence still needs
    # ``min_confirmations`` people; never less than an even chance, so a
    # careless reader's sentence is no evidence against itself.
    max_reader_accuracy: float = 0.97
    min_reader_accuracy: float = 0.5
    # The reader of the chunk being decided, as the platform knows them (set
    # per decision, like ``stop_expected_errors``); None: a new reader, at
    # ``script_prior``.
    reader_accuracy: float | None = None

    # What people's time costs, in seconds of a volunteer: a judgement of a
    # clip of d seconds costs a·d + b (a vote, a typed transcript, a review),
    # and a reviewer's second costs ``reviewer_price`` volunteer seconds
    # (reviewers are a handful of staff, volunteers many).
    vote_cost: tuple[float, float] = (1.0, 3.0)
    transcript_cost: tuple[float, float] = (4.0, 5.0)
    review_cost: tuple[float, float] = (6.0, 10.0)
    reviewer_price: float = 10.0
    # One more transcript, the n-th + 1, removes about ``transcript_gain / n``
    # of a chunk's expected wrong words: fitted on the CrowdSpeech dev splits
    # with a fixed number of transcripts per clip (3→4 removed 19% / 17% of the
    # errors, 4→5 14% / 11%, 5→6 9% / 8%, 6→7 7% / 7%).
    transcript_gain: float = 0.55
    # What one wrong word in the data is worth fixing, in volunteer seconds:
    # it prices both one more transcript and a review against the wrong words
    # they are expected to remove.
    wrong_word_value: float = 600.0

    # Reliability (one-coin Dawid–Skene with a Beta prior per contributor).
    # The prior is what a newcomer is worth before any evidence. Crowds have
    # a long tail of people who do a few tasks badly and leave (on CrowdSpeech
    # dev-other, workers with 3–7 tasks average 0.56 word accuracy against
    # 0.82 for those with 20+), so a newcomer counts less than a proven
    # average worker: 0.7 rather than 0.85 lowered consensus WER on both dev
    # splits at the same transcript budget (docs/consensus.md, section 4).
    prior_mean: float = 0.7
    prior_strength: float = 20.0
    # Evidence is multiplied by this factor each time a contributor gains new
    # evidence, so the estimate follows a contributor who improves or tires.
    decay: float = 0.995
    # Words of evidence before a contributor under 0.5 accuracy is silenced;
    # with less, the estimate is too noisy to exclude anyone.
    min_evidence_words: float = 40.0
    reviewer_evidence_weight: float = 3.0
    # Leave-one-out slots where the others' winner leads by no more than this
    # (log-odds) carry no evidence: they would blame whoever was outvoted by
    # a coin toss.
    evidence_min_margin: float = 0.0
    # logit(0.97) ≈ 3.48 stays under the margin: however reliable someone
    # looks, they never validate a chunk alone (e.g. beside a silenced spammer).
    max_accuracy: float = 0.97

    @property
    def sentence_prior(self) -> float:
        """The belief, before any judgement, that the chunk says its sentence."""
        return self.script_prior if self.reader_accuracy is None else self.reader_accuracy

    def capped(self, max_transcripts: int) -> EngineConfig:
        """The same rules with at most ``max_transcripts`` per chunk; the counts
        that must not exceed it (start, validation, budget) come down with it."""
        return replace(
            self,
            max_transcripts=max_transcripts,
            start_transcripts=min(self.start_transcripts, max_transcripts),
            validate_from=min(self.validate_from, max_transcripts),
            transcript_budget=min(self.transcript_budget, float(max_transcripts)),
        )

    def cost(self, kind: str, seconds: float) -> float:
        """Volunteer seconds one judgement of ``kind`` ("vote", "transcript" or
        "review") of a clip of ``seconds`` costs."""
        a, b = {"vote": self.vote_cost, "transcript": self.transcript_cost,
                "review": self.review_cost}[kind]  # fmt: skip
        price = self.reviewer_price if kind == "review" else 1.0
        return price * (a * seconds + b)

    def __post_init__(self) -> None:
        if not 1 <= self.start_transcripts <= self.max_transcripts:
            raise ValueError("need 1 <= start_transcripts <= max_transcripts")
        if not 0.5 < self.prior_mean < 1.0:
            raise ValueError("prior_mean must be in (0.5, 1)")
        if not 0.0 <= self.audit_rate <= 1.0:
            raise ValueError("audit_rate must be in [0, 1]")
        if not self.start_transcripts <= self.validate_from <= self.max_transcripts:
            raise ValueError("need start_transcripts <= validate_from <= max_transcripts")
        if not self.start_transcripts <= self.transcript_budget <= self.max_transcripts:
            raise ValueError("need start_transcripts <= transcript_budget <= max_transcripts")
        if not 0.0 < self.match_reject < self.script_prior < self.match_validate < 1.0:
            raise ValueError("need 0 < match_reject < script_prior < match_validate < 1")
        if not self.match_reject <= self.match_doubt < self.match_validate:
            raise ValueError("need match_reject <= match_doubt < match_validate")
        if not 0.5 < self.listener_prior_mean < 1.0:
            raise ValueError("listener_prior_mean must be in (0.5, 1)")
        if not self.match_reject < self.min_reader_accuracy <= self.max_reader_accuracy < 1.0:
            raise ValueError("need match_reject < min_reader_accuracy <= max_reader_accuracy < 1")
        if self.reader_accuracy is not None and not (
            self.min_reader_accuracy <= self.reader_accuracy <= self.max_reader_accuracy
        ):
            raise ValueError("reader_accuracy must be within the reader bounds")


@dataclass(frozen=True, slots=True)
class Transcript:
    """One contributor's transcript of a chunk.

    ``weight`` (log-odds) wins over ``accuracy``; with neither, the
    contributor counts as a newcomer at the prior mean accuracy.
    """

    contributor_id: str
    raw_text: str
    flags: frozenset[str] = frozenset()
    weight: float | None = None
    accuracy: float | None = None
    # A listener's vote on the chunk's script sentence (True: it matches);
    # None for a typed transcript. A vote's weight is its listening weight.
    vote: bool | None = None


def weight_from_accuracy(accuracy: float) -> float:
    """One-coin Dawid–Skene voting weight: log(a / (1 − a)); never negative.

    A contributor below 0.5 is no better than a coin at agreeing with the
    truth, and a negative vote would reward guessing the opposite of them,
    which makes no sense for open-vocabulary words.
    """
    if accuracy <= 0.5:
        return 0.0
    if accuracy >= 1.0:
        accuracy = 1.0 - 1e-6
    return math.log(accuracy / (1.0 - accuracy))


def transcript_weight(transcript: Transcript, config: EngineConfig) -> float:
    if transcript.weight is not None:
        return max(0.0, transcript.weight)
    accuracy = transcript.accuracy if transcript.accuracy is not None else config.prior_mean
    return weight_from_accuracy(min(accuracy, config.max_accuracy))


@dataclass(frozen=True, slots=True)
class Decision:
    status: Status
    text: str
    normalized_text: str
    words: tuple[tuple[str, float], ...]
    estimated_wer: float
    expected_errors: float
    reason: str
    audit: bool
    method_version: str
    language: str
    transcript_count: int
    # Lowest winner lead over the runner-up in any slot (log-odds).
    min_margin: float
    mean_pairwise_cer: float
    # Contributors whose vote counted for nothing, shown to reviewers.
    silenced_contributors: tuple[str, ...] = field(default=())
    # Posterior that the chunk says exactly its script sentence (None: no sentence).
    match_probability: float | None = None
    # For need_more: what to ask the next volunteer.
    next_mode: Mode = "transcribe"
    # Expected wrong words a review would remove: what orders the review queue.
    review_gain: float = 0.0


# The stopping threshold stays in this range whatever the controller does: at
# the bottom a chunk needs near-certainty to stop early, at the top almost
# every chunk stops at ``start_transcripts``.
STOP_THRESHOLD_RANGE = (0.05, 20.0)


def budget_threshold(current: float, transcripts_used: int, config: EngineConfig) -> float:
    """The stopping threshold after a chunk finished with ``transcripts_used``.

    A multiplicative integral controller: every chunk that used more than the
    budget raises the threshold a little (later chunks stop earlier), every
    chunk under it lowers it, so over many chunks the mean settles at the
    budget while the transcripts go where the expected errors are highest.
    """
    low, high = STOP_THRESHOLD_RANGE
    return min(high, max(low, current * budget_factor(transcripts_used, config)))


def budget_factor(transcripts_used: int, config: EngineConfig) -> float:
    """What one finished chunk multiplies the stopping threshold by."""
    return math.exp(config.budget_step * (transcripts_used - config.transcript_budget))
