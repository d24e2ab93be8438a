"""Replaying transcripts through the production engine and measuring it.

Shared by the CrowdSpeech evaluation (:mod:`.evaluate`) and the simulated
Bangla transcribers (:mod:`.simulate`). Clips are visited in a seeded random
order, and each clip's transcripts are revealed one at a time in a seeded
random order, as the platform would receive them. Every decision is made by
:func:`decide` with the weights the reliability state holds at that moment;
when a clip is decided, its transcribers' reliabilities are updated
leave-one-out. The batch job (re-estimation, then re-scoring of the finished
clips no reviewer settled) runs as the decided clips grow and once after the
last, so the metrics describe the texts the platform would then hold. The
reference is only read to compute the metrics.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rapidfuzz.distance import Levenshtein

from transcriptions.normalize import tokenize

from .policy import decide, rescored_status
from .reliability import (
    DecidedChunk,
    ReliabilityState,
    reestimate,
    reliability_evidence,
    vote_evidence,
)
from .schema import METHOD_VERSION, Decision, EngineConfig, Transcript, budget_threshold

LANGUAGE_EN = "en"
LANGUAGE_BN = "bn"

# The batch job runs each time the decided clips have grown by this factor.
BATCH_GROWTH = 2.0

# Upper edges of the calibration bins of estimated WER.
_CALIBRATION_EDGES = (0.005, 0.02, 0.05, 0.1, 0.2, 0.4, math.inf)


@dataclass(frozen=True, slots=True)
class Clip:
    clip_id: str
    reference: str
    transcripts: tuple[tuple[str, str, frozenset[str]], ...]  # worker, text, flags
    prior_text: str | None = None
    # Listeners who would vote on the script sentence: worker, "it matches".
    votes: tuple[tuple[str, bool], ...] = ()
    duration: float | None = None


@dataclass(slots=True)
class ClipResult:
    # What the platform holds for the clip at the end: its text's errors and
    # status after the last batch job re-scored it.
    errors: int
    ref_words: int
    expected_errors: float
    status: str
    transcripts_used: int
    audit: bool
    # Errors of the text as first decided, before any re-scoring.
    decided_errors: int
    votes_used: int = 0


def word_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(word edit distance, reference words) after the engine's normalisation."""
    ref = tokenize(reference)
    return Levenshtein.distance(tokenize(hypothesis), ref), len(ref)


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 5) if denominator else 0.0


@dataclass
class ReviewQueue:
    """The language's review queue: reviewers clear ``per_day`` chunks a day,
    and ``clips_per_day`` chunks finish each day. None: unbounded."""

    per_day: int | None = None
    clips_per_day: int = 1000
    waiting: int = 0
    finished_today: int = 0

    @property
    def room(self) -> bool:
        return self.per_day is None or self.waiting < self.per_day

    def finish(self, status: str) -> None:
        self.waiting += status == "needs_review"
        self.finished_today += 1
        if self.per_day is not None and self.finished_today >= self.clips_per_day:
            self.waiting = max(0, self.waiting - self.per_day)
            self.finished_today = 0


def replay(
    clips: Sequence[Clip],
    *,
    seed: int,
    config: EngineConfig,
    language: str,
    use_prior: bool = True,
    reviewer: Callable[[Clip], str | None] | None = None,
    batch_reestimation: bool = True,
    on_finish: Callable[[ReliabilityState], None] | None = None,
    queue: ReviewQueue | None = None,
) -> dict[str, object]:
    """Run the engine over ``clips`` as the platform would and measure it.

    The next judgement of a clip is what its last decision asks for: a
    listener's vote on the script sentence while nobody contradicted it, a
    typed transcript otherwise; nobody judges a clip twice. ``reviewer``
    simulates the human review of chunks the engine sends to review (e.g.
    returning the reference); by default reviewers give no feedback, so
    reliabilities are learned from automatic decisions only. ``queue`` bounds
    what reviewers can clear.
    """
    rng = random.Random(seed)
    order = list(range(len(clips)))
    rng.shuffle(order)
    state = ReliabilityState(config)
    listening = ReliabilityState(config, listening=True)
    queue = queue or ReviewQueue()
    decided: list[DecidedChunk] = []
    # The platform's periodic batch job re-estimates all reliabilities by EM;
    # here it runs whenever the number of decided clips has doubled, which
    # costs about as much as running it once at the end.
    next_batch = 64
    threshold = config.stop_expected_errors
    results: list[ClipResult] = []
    single_errors = single_words = 0
    for position in order:
        clip = clips[position]
        pool = list(clip.transcripts)
        rng.shuffle(pool)
        listeners = list(clip.votes)
        rng.shuffle(listeners)
        for _, text, _ in pool:
            errors, words = word_errors(text, clip.reference)
            single_errors += errors
            single_words += words
        prior = clip.prior_text if use_prior else None
        used: list[Transcript] = []
        seen: set[str] = set()
        decision: Decision | None = None
        # The stopping threshold of the day, as the platform holds it.
        today = replace(config, stop_expected_errors=threshold)
        mode = "verify" if prior and listeners else "transcribe"
        while len(used) < config.max_transcripts:
            judgement = _next(mode if prior else "transcribe", pool, listeners, seen)
            if judgement is None:
                break
            worker, text, flags, vote = judgement
            seen.add(worker)
            source = listening if vote is not None else state
            used.append(
                Transcript(worker, text, flags, weight=source.weight(worker, language), vote=vote)
            )
            decision = decide(
                used,
                prior_text=prior,
                language=language,
                config=today,
                audit_key=clip.clip_id,
                duration=clip.duration,
                review_room=queue.room,
            )
            if decision.status != "need_more":
                break
            mode = decision.next_mode
        threshold = budget_threshold(threshold, len(used), config)
        assert decision is not None
        # A clip that ran out of people before a decision keeps the crowd's text.
        status = "accepted" if decision.status == "need_more" else decision.status
        if decision.audit:
            queue.finish("needs_review")
        queue.finish(status)
        reviewed_text = (
            reviewer(clip) if reviewer is not None and status == "needs_review" else None
        )
        state.update_many(
            reliability_evidence(
                used, prior_text=prior, config=config, reviewed_text=reviewed_text
            ),
            language,
        )
        listening.update_many(
            vote_evidence(used, prior_text=prior, config=config, reviewed_text=reviewed_text),
            language,
        )
        decided.append(DecidedChunk(tuple(used), prior, reviewed_text))
        errors, words = word_errors(decision.text, clip.reference)
        votes = sum(1 for t in used if t.vote is not None)
        results.append(
            ClipResult(
                errors,
                words,
                decision.expected_errors,
                status,
                len(used) - votes,
                decision.audit,
                errors,
                votes,
            )
        )
        if batch_reestimation and len(decided) == next_batch:
            state = _batch_job(decided, results, order, clips, state, language, config)
            next_batch = max(next_batch + 1, int(next_batch * BATCH_GROWTH))
    if batch_reestimation:
        # The batch job once more after the last clip: what the platform
        # holds the next day.
        state = _batch_job(decided, results, order, clips, state, language, config)
    if on_finish is not None:
        on_finish(state)
    report = _metrics(results, single_errors, single_words)
    report["stop_expected_errors_final"] = round(threshold, 3)
    if queue.per_day is not None:
        report["review_queue"] = {"reviews_per_day": queue.per_day,
                                  "clips_per_day": queue.clips_per_day}  # fmt: skip
    return report


def _next(mode: str, pool: list, listeners: list, seen: set[str]):
    """The next unused judgement of the kind asked for: (worker, text, flags, vote)."""
    if mode == "verify":
        for worker, matches in listeners:
            if worker not in seen:
                return worker, "", frozenset(), matches
    for worker, text, flags in pool:
        if worker not in seen:
            return worker, text, flags, None
    return None


def _batch_job(
    decided: Sequence[DecidedChunk],
    results: Sequence[ClipResult],
    order: Sequence[int],
    clips: Sequence[Clip],
    state: ReliabilityState,
    language: str,
    config: EngineConfig,
) -> ReliabilityState:
    """The platform's periodic batch job: re-estimate every reliability, then
    re-score the finished clips no reviewer has settled with the new weights
    (same transcripts; see :func:`rescored_status`)."""
    state = reestimate(decided, language=language, config=config, start=state)
    for position, chunk, result in zip(order[: len(decided)], decided, results, strict=True):
        if chunk.reviewed_text is not None:
            continue
        again = decide(
            [
                (
                    t
                    if t.vote is not None
                    else replace(t, weight=state.weight(t.contributor_id, language))
                )
                for t in chunk.transcripts
            ],
            prior_text=chunk.prior_text,
            language=language,
            config=config,
            duration=clips[position].duration,
            # A re-score moves no finished chunk into the queue to be priced there.
            review_room=False,
        )
        result.status = rescored_status(result.status, again)
        result.errors = word_errors(again.text, clips[position].reference)[0]
        result.expected_errors = again.expected_errors
    return state


def _metrics(
    results: Sequence[ClipResult], single_errors: int, single_words: int
) -> dict[str, object]:
    def wer(items: Sequence[ClipResult]) -> float:
        return _ratio(sum(r.errors for r in items), sum(r.ref_words for r in items))

    validated = [r for r in results if r.status == "validated"]
    accepted = [r for r in results if r.status == "accepted"]
    reviewed = [r for r in results if r.status == "needs_review"]
    calibration = []
    lower = 0.0
    for upper in _CALIBRATION_EDGES:
        group = [r for r in results if lower <= r.expected_errors / max(1, r.ref_words) < upper]
        if group:
            calibration.append(
                {
                    "estimated_wer_below": upper if math.isfinite(upper) else None,
                    "clips": len(group),
                    "mean_estimated_wer": _ratio(
                        sum(r.expected_errors for r in group), sum(r.ref_words for r in group)
                    ),
                    "true_wer": wer(group),
                }
            )
        lower = upper
    return {
        "method_version": METHOD_VERSION,
        "clips": len(results),
        "single_worker_wer": _ratio(single_errors, single_words),
        "consensus_wer": wer(results),
        # The texts as first decided, before the batch job re-scored them.
        "decided_consensus_wer": _ratio(
            sum(r.decided_errors for r in results), sum(r.ref_words for r in results)
        ),
        "mean_transcripts": _ratio(sum(r.transcripts_used for r in results), len(results)),
        "mean_votes": _ratio(sum(r.votes_used for r in results), len(results)),
        "review_rate": _ratio(len(reviewed), len(results)),
        # What reviewers see: the chunks in review and the audit samples.
        "review_share": _ratio(len(reviewed) + sum(r.audit for r in results), len(results)),
        "validated_rate": _ratio(len(validated), len(results)),
        "validated_wer": wer(validated),
        "accepted_rate": _ratio(len(accepted), len(results)),
        "accepted_wer": wer(accepted),
        "reviewed_wer": wer(reviewed),
        "audit_rate": _ratio(sum(r.audit for r in results), len(results)),
        "estimated_errors": round(sum(r.expected_errors for r in results), 1),
        "true_errors": sum(r.errors for r in results),
        "calibration": calibration,
    }
