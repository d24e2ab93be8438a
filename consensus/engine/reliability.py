"""Contributor reliability: a Beta posterior over word accuracy, per language.

Evidence comes from decided chunks. Each transcriber is compared with the
consensus of the *other* voters (leave-one-out: the slots are re-voted
without them), so nobody's own vote can raise their agreement and a spammer
cannot bootstrap a reputation from chunks they dominate. A reviewer's text,
when there is one, is compared directly and counts ``reviewer_evidence_weight``
times: it is the closest thing to ground truth the system ever sees.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from rapidfuzz.distance import Levenshtein

from transcriptions.normalize import tokenize

from .policy import _logit, build_voters, match_evidence
from .schema import EngineConfig, Transcript, weight_from_accuracy
from .vote import combine, vote_slot


@dataclass(frozen=True, slots=True)
class Evidence:
    agree: float
    disagree: float


@dataclass(frozen=True, slots=True)
class Reliability:
    """Beta(alpha, beta) over a contributor's word accuracy, prior included."""

    alpha: float
    beta: float

    @property
    def accuracy(self) -> float:
        return self.alpha / (self.alpha + self.beta)


def reliability_prior(config: EngineConfig, *, listening: bool = False) -> Reliability:
    """A newcomer's typing accuracy or, with ``listening``, how often their
    yes/no on a sentence is right: the two are different skills."""
    mean = config.listener_prior_mean if listening else config.prior_mean
    strength = config.listener_prior_strength if listening else config.prior_strength
    return Reliability(alpha=mean * strength, beta=(1.0 - mean) * strength)


def reliability_update(
    current: Reliability, evidence: Evidence, config: EngineConfig, *, listening: bool = False
) -> Reliability:
    """Decay the evidence gathered so far toward the prior, then add the new."""
    return _decayed(current, evidence, reliability_prior(config, listening=listening), config)


def _decayed(
    current: Reliability, evidence: Evidence, prior: Reliability, config: EngineConfig
) -> Reliability:
    return Reliability(
        alpha=prior.alpha + config.decay * (current.alpha - prior.alpha) + evidence.agree,
        beta=prior.beta + config.decay * (current.beta - prior.beta) + evidence.disagree,
    )


def reading_prior(config: EngineConfig) -> Reliability:
    """A new reader's reading reliability: their chunks say their sentence as
    written ``script_prior`` of the time."""
    mean, strength = config.script_prior, config.reader_prior_strength
    return Reliability(alpha=mean * strength, beta=(1.0 - mean) * strength)


def reading_update(current: Reliability, evidence: Evidence, config: EngineConfig) -> Reliability:
    """A reader's reliability after one more judged reading (old evidence decays)."""
    return _decayed(current, evidence, reading_prior(config), config)


def reading_accuracy(current: Reliability, config: EngineConfig) -> float:
    """What a reader's record makes their next sentence worth before anyone
    listens (``EngineConfig.reader_accuracy``), within the reader bounds."""
    return min(config.max_reader_accuracy, max(config.min_reader_accuracy, current.accuracy))


def reliability_weight(
    current: Reliability, config: EngineConfig, *, listening: bool = False
) -> float:
    """Voting weight; 0 for contributors proven (with enough words, or votes
    when ``listening``) below 0.5.

    Below 0.5 with too little evidence the weight is floored at a small value
    instead: a newcomer's first bad chunk must not silence them for good.
    """
    accuracy = min(current.accuracy, config.max_accuracy)
    strength = config.listener_prior_strength if listening else config.prior_strength
    enough = config.min_evidence_votes if listening else config.min_evidence_words
    evidence = current.alpha + current.beta - strength
    if accuracy <= 0.5:
        return 0.0 if evidence >= enough else 0.1
    return weight_from_accuracy(accuracy)


class ReliabilityState:
    """In-memory reliability of every (contributor, language) pair.

    The Django layer persists ``Reliability`` rows itself; this class is the
    same arithmetic for offline evaluation and for tests.
    """

    def __init__(self, config: EngineConfig, *, listening: bool = False) -> None:
        self.config = config
        self.listening = listening
        self._table: dict[tuple[str, str], Reliability] = {}

    def get(self, contributor_id: str, language: str) -> Reliability:
        found = self._table.get((contributor_id, language))
        if found is not None:
            return found
        return reliability_prior(self.config, listening=self.listening)

    def weight(self, contributor_id: str, language: str) -> float:
        current = self.get(contributor_id, language)
        return reliability_weight(current, self.config, listening=self.listening)

    def update(self, contributor_id: str, language: str, evidence: Evidence) -> Reliability:
        current = self.get(contributor_id, language)
        updated = reliability_update(current, evidence, self.config, listening=self.listening)
        self._table[(contributor_id, language)] = updated
        return updated

    def update_many(self, evidence: dict[str, Evidence], language: str) -> None:
        for contributor_id, item in evidence.items():
            self.update(contributor_id, language, item)

    def items(self) -> Iterable[tuple[tuple[str, str], Reliability]]:
        return self._table.items()


def _compare(tokens: Sequence[str], truth: Sequence[str]) -> Evidence:
    """Words matched (agreements) and word errors (disagreements) against a truth."""
    errors = 0
    missed = 0  # truth words substituted or left out
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(list(tokens), list(truth)):
        if tag in ("replace", "insert"):
            missed += j2 - j1
            errors += max(i2 - i1, j2 - j1)
        elif tag == "delete":
            errors += i2 - i1
    return Evidence(agree=float(len(truth) - missed), disagree=float(errors))


def reliability_evidence(
    transcripts: Sequence[Transcript],
    *,
    prior_text: str | None,
    config: EngineConfig,
    reviewed_text: str | None = None,
) -> dict[str, Evidence]:
    """Agreement/disagreement word counts per contributor for one decided chunk.

    With ``reviewed_text`` (a reviewer's final text) every transcript is
    compared with it and the counts are scaled by ``reviewer_evidence_weight``.
    Otherwise each transcriber is compared, slot by slot, with the vote of the
    others (and the script prior) re-run without them; slots where the others
    are split evenly enough that no candidate leads carry no evidence.
    Flagged transcripts (which do not vote) earn no evidence either.
    """
    voters, voter_index = build_voters(transcripts, prior_text, config)
    result: dict[str, Evidence] = {}
    if reviewed_text is not None:
        truth = tokenize(reviewed_text)
        for transcript, k in zip(transcripts, voter_index, strict=True):
            if k < 0:
                continue
            found = _compare(voters[k].tokens, truth)
            scale = config.reviewer_evidence_weight
            result[transcript.contributor_id] = Evidence(
                found.agree * scale, found.disagree * scale
            )
        return result

    if sum(1 for k in voter_index if k >= 0) + (prior_text is not None) < 2:
        return result  # nobody to compare with
    slots = combine(voters, null_factor=config.null_vote_factor).slots
    weights = [voter.weight for voter in voters]
    # Leave-one-out needs someone left to vote: when every other voter has
    # weight 0, fall back to equal weights so newcomers can still be compared.
    if sum(1 for w in weights if w > 0.0) < 2:
        weights = [max(w, 1e-3) for w in weights]
    for transcript, k in zip(transcripts, voter_index, strict=True):
        if k < 0:
            continue
        agree = disagree = 0.0
        for slot in slots:
            vote = vote_slot(slot, weights, config.null_vote_factor, exclude=k)
            mine = slot.entries[k]
            if vote.margin <= config.evidence_min_margin or (mine is None and vote.winner is None):
                continue
            if mine == vote.winner:
                agree += 1.0
            else:
                disagree += 1.0
        result[transcript.contributor_id] = Evidence(agree, disagree)
    return result


# A listener's vote teaches only when the others settled the question this surely.
_VOTE_EVIDENCE_CONFIDENCE = 0.95


def vote_evidence(
    transcripts: Sequence[Transcript],
    *,
    prior_text: str | None,
    config: EngineConfig,
    reviewed_text: str | None = None,
) -> dict[str, Evidence]:
    """Right and wrong yes/no votes per listener for one decided chunk.

    With ``reviewed_text`` a vote is right when it says what the reviewer's
    text says about the sentence (counted ``reviewer_evidence_weight`` times).
    Otherwise each vote is judged by the evidence of everyone else (prior
    included, leave-one-out); a vote on a question the others left open
    teaches nothing.
    """
    sentence = tokenize(prior_text) if prior_text is not None else []
    result: dict[str, Evidence] = {}
    if not sentence:
        return result
    truth = None if reviewed_text is None else tokenize(reviewed_text) == sentence
    for number, transcript in enumerate(transcripts):
        if transcript.vote is None or transcript.flags & config.review_flags:
            continue
        scale = 1.0
        answer = truth
        if answer is None:
            others = match_evidence(transcripts, sentence, config, exclude=number).probability
            if others >= _VOTE_EVIDENCE_CONFIDENCE:
                answer = True
            elif others <= 1.0 - _VOTE_EVIDENCE_CONFIDENCE:
                answer = False
            else:
                continue
        else:
            scale = config.reviewer_evidence_weight
        right = transcript.vote == answer
        result[transcript.contributor_id] = Evidence(scale * right, scale * (not right))
    return result


def reading_evidence(
    transcripts: Sequence[Transcript],
    *,
    prior_text: str | None,
    config: EngineConfig,
    reviewed_text: str | None = None,
) -> Evidence | None:
    """Whether the reader of one finished chunk read its sentence as written.

    With ``reviewed_text``: whether the reviewer's text is the sentence
    (counted ``reviewer_evidence_weight`` times). Otherwise the judgements are
    weighed without the reader's own prior (leave the reader out: an even
    start), so a reader's record cannot vouch for itself; a chunk they leave
    between ``reading_evidence_confidence`` and its complement teaches
    nothing (None).
    """
    sentence = tokenize(prior_text) if prior_text is not None else []
    if not sentence:
        return None
    if reviewed_text is not None:
        scale = config.reviewer_evidence_weight
        right = tokenize(reviewed_text) == sentence
        return Evidence(scale * right, scale * (not right))
    match = match_evidence(transcripts, sentence, config)
    odds = match.log_odds - _logit(config.sentence_prior)
    threshold = _logit(config.reading_evidence_confidence)
    if odds >= threshold:
        return Evidence(1.0, 0.0)
    if odds <= -threshold:
        return Evidence(0.0, 1.0)
    return None


@dataclass(frozen=True, slots=True)
class DecidedChunk:
    """What the batch re-estimation needs to know about one decided chunk."""

    transcripts: tuple[Transcript, ...]
    prior_text: str | None = None
    reviewed_text: str | None = None


def reestimate(
    chunks: Sequence[DecidedChunk],
    *,
    language: str,
    config: EngineConfig,
    start: ReliabilityState | None = None,
    iterations: int = 2,
    silenced: Collection[str] = frozenset(),
) -> ReliabilityState:
    """Batch re-estimation of every contributor's reliability (one-coin EM).

    Online updates judge each chunk with the weights known when it was
    decided, which for the first chunks of a new contributor are only the
    prior. Here every chunk is re-judged with the current weights (the
    E-step: leave-one-out consensus of the others), then the Beta posteriors
    are rebuilt from scratch in chronological order (the M-step, decay
    included), and the two steps alternate. ``chunks`` must be in the order
    they were decided. ``silenced`` contributors (blocked ones) vote with
    weight 0 whatever their record.
    """
    state = start if start is not None else ReliabilityState(config)
    for _ in range(iterations):
        fresh = ReliabilityState(config)
        for chunk in chunks:
            # Votes keep their own weights: only typing is re-estimated here.
            reweighted = [
                t
                if t.vote is not None
                else replace(
                    t,
                    weight=(
                        0.0
                        if t.contributor_id in silenced
                        else state.weight(t.contributor_id, language)
                    ),
                )
                for t in chunk.transcripts
            ]
            fresh.update_many(
                reliability_evidence(
                    reweighted,
                    prior_text=chunk.prior_text,
                    config=config,
                    reviewed_text=chunk.reviewed_text,
                ),
                language,
            )
        state = fresh
    return state
