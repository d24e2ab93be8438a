"""Reliability-weighted voting over aligned slots.

Each slot's candidates (NULL included) score the sum of their supporters'
log-odds weights. One more implicit candidate, "a word nobody wrote", scores
0: under the one-coin Dawid–Skene model with independent voters, a word's
posterior odds against an unseen word are exp(sum of its supporters' weights)
(the words others wrote count equally against both). Without that candidate
a slot where everyone agrees would get confidence 1 from a single voter.

Confidence = softmax of those scores; the winner's lead over the runner-up
(the margin, in log-odds) drives the stopping rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz.distance import Levenshtein

from .align import Slot, align


# NamedTuples, not frozen dataclasses: a decision builds a dozen of these, and
# a frozen dataclass pays an object.__setattr__ per field on creation.
class Voter(NamedTuple):
    tokens: Sequence[str]
    raws: Sequence[str]
    weight: float


class SlotVote(NamedTuple):
    winner: str | None
    confidence: float
    margin: float


@dataclass(frozen=True, slots=True)
class Consensus:
    slots: list[Slot]
    votes: list[SlotVote]
    tokens: list[str]
    confidences: list[float]
    text: str
    expected_errors: float
    estimated_wer: float
    min_margin: float


def vote_slot(
    slot: Slot, weights: Sequence[float], null_factor: float = 1.0, exclude: int = -1
) -> SlotVote:
    """Winner of one slot; ``exclude`` leaves one voter out (leave-one-out).

    A vote for NULL counts ``null_factor`` times a vote for a word: people
    drop short words they did not catch far more often than they invent
    words that were not said, so "nothing here" is weaker evidence.
    """
    scores: dict[str | None, float] = {}
    for k, entry in enumerate(slot.entries):
        weight = weights[k]
        if k != exclude and weight > 0.0:
            if entry is None:
                weight *= null_factor
            scores[entry] = scores.get(entry, 0.0) + weight
    if not scores:
        # Nobody with any weight voted here: "a word nobody wrote" leads.
        return SlotVote(winner=None, confidence=0.0, margin=0.0)
    # Ties: NULL first (as in _vote_totals), then the word seen first.
    winner = max(scores, key=lambda candidate: (scores[candidate], candidate is None))
    top = scores[winner]
    runner_up = 0.0  # the unseen-word candidate
    partition = math.exp(-top)
    for candidate, score in scores.items():
        partition += math.exp(score - top)
        if candidate != winner and score > runner_up:
            runner_up = score
    return SlotVote(winner=winner, confidence=1.0 / partition, margin=top - runner_up)


def _vote_totals(slot: Slot, null_factor: float) -> SlotVote:
    """:func:`vote_slot` for everybody, from the totals the aligner kept.

    Ties: NULL beats a word (a word needs a strict lead to enter the text),
    and between words the one merged first, i.e. backed by the heaviest
    single voter, wins.
    """
    null_score = slot.null_weight * null_factor
    if null_score <= 0.0 and len(slot.word_weight) == 1:
        # Everybody who voted wrote the same word, the most common slot: the
        # only rival is the unseen word (score 0), so the softmax is a logistic.
        top = slot.word_weight[slot.best]
        if top <= 0.0:
            return SlotVote(winner=None, confidence=0.0, margin=0.0)
        return SlotVote(winner=slot.best, confidence=1.0 / (1.0 + math.exp(-top)), margin=top)
    winner: str | None = None
    top = null_score if null_score > 0.0 else -1.0
    for word, score in slot.word_weight.items():
        if score > top:
            winner, top = word, score
    if top <= 0.0:
        return SlotVote(winner=None, confidence=0.0, margin=0.0)
    runner_up = 0.0
    partition = math.exp(-top)
    for word, score in slot.word_weight.items():
        if score > 0.0:
            partition += math.exp(score - top)
            if word != winner and score > runner_up:
                runner_up = score
    if null_score > 0.0:
        partition += math.exp(null_score - top)
        if winner is not None and null_score > runner_up:
            runner_up = null_score
    return SlotVote(winner=winner, confidence=1.0 / partition, margin=top - runner_up)


def combine(voters: Sequence[Voter], *, null_factor: float = 1.0) -> Consensus:
    """Align and vote; rebuild the text from the raw spellings of the winners."""
    weights = [voter.weight for voter in voters]
    if not any(weight > 0.0 for weight in weights):
        # Everybody is silenced: rank by head count, but with weights so small
        # that no slot can look confident.
        weights = [1e-3] * len(voters)
    slots = align([voter.tokens for voter in voters], weights)
    votes = [_vote_totals(slot, null_factor) for slot in slots]

    tokens: list[str] = []
    confidences: list[float] = []
    pieces: list[str] = []
    expected_errors = 0.0
    raws = [voter.raws for voter in voters]
    # pointers[k]: index of voter k's next token, i.e. of its raw spelling.
    pointers = [0] * len(voters)
    for slot, vote in zip(slots, votes, strict=True):
        # A NULL winner that is wrong is a deletion error, so it counts too.
        expected_errors += 1.0 - vote.confidence
        winner = vote.winner
        entries = slot.entries
        if winner is None:
            for k, entry in enumerate(entries):
                if entry is not None:
                    pointers[k] += 1
            continue
        if len(slot.word_weight) == 1 and None not in entries:
            # Everybody wrote the winner (the most common slot): one pass
            # over their raw spellings, which usually agree too.
            spellings = [raws[k][pointer] for k, pointer in enumerate(pointers)]
            pointers = [pointer + 1 for pointer in pointers]
            tokens.append(winner)
            confidences.append(vote.confidence)
            first = spellings[0]
            if spellings.count(first) == len(spellings):
                pieces.append(first)
            else:
                pieces.append(_commonest(zip(spellings, weights, strict=True)))
            continue
        supporters: list[tuple[str, float]] = []
        for k, entry in enumerate(entries):
            if entry is None:
                continue
            if entry == winner:
                supporters.append((raws[k][pointers[k]], weights[k]))
            pointers[k] += 1
        tokens.append(winner)
        confidences.append(vote.confidence)
        pieces.append(_commonest(supporters))
    return Consensus(
        slots=slots,
        votes=votes,
        tokens=tokens,
        confidences=confidences,
        text=" ".join(pieces),
        expected_errors=expected_errors,
        estimated_wer=expected_errors / max(1, len(tokens)),
        min_margin=min((vote.margin for vote in votes), default=0.0),
    )


def _commonest(spellings: Iterable[tuple[str, float]]) -> str:
    """The most common raw spelling among (spelling, supporter weight) pairs;
    ties to the heavier supporters, then to the spelling seen first."""
    forms: dict[str, tuple[int, float]] = {}
    for form, weight in spellings:
        count, total = forms.get(form, (0, 0.0))
        forms[form] = (count + 1, total + weight)
    return next(iter(forms)) if len(forms) == 1 else max(forms, key=forms.__getitem__)


def mean_pairwise_cer(texts: Sequence[str]) -> float:
    """Mean normalised character edit distance over all pairs (0 with fewer than 2)."""
    n = len(texts)
    if n < 2:
        return 0.0
    # One C call per pair: with the handful of transcripts a chunk has, that
    # is cheaper than a cdist matrix, which also computes each pair twice.
    distance = Levenshtein.normalized_distance
    total = 0.0
    for i in range(n - 1):
        first = texts[i]
        for j in range(i + 1, n):
            total += distance(first, texts[j])
    return 2.0 * total / (n * (n - 1))
