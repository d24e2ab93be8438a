"""Deciding chunks: run the engine on stored transcriptions, apply the outcome,
move reliabilities; and the reviewer's accept / correct / reject."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext

from consensus import engine
from consensus.models import ConsensusDecision, DecidedBy, StoppingThreshold
from consensus.signals import chunk_decided
from contributors.models import ReliabilityScore, blocked_user_ids
from recordings.models import Chunk, ChunkStatus
from shrutik.db import replica_reads
from shrutik.queueing import enqueue_or_defer
from shrutik.signals import send_on_commit
from transcriptions.models import SkipReason, TaskLease, TaskSkip, Transcription

logger = logging.getLogger(__name__)

# A report joins a chunk's judgements as a flag-only transcript under this id prefix.
REPORT = "report:"

# Chunks the engine has finished with: what the batch job learns from and may
# re-score. A rejected chunk stays rejected and teaches nothing.
FINISHED = (ChunkStatus.VALIDATED, ChunkStatus.ACCEPTED, ChunkStatus.NEEDS_REVIEW)


@cache
def engine_config() -> engine.EngineConfig:
    defaults = engine.EngineConfig()
    fields = {f.name for f in dataclasses.fields(engine.EngineConfig)}
    unknown = set(settings.CONSENSUS_CONFIG) - fields
    if unknown:
        raise ValueError(f"Unknown CONSENSUS_CONFIG keys: {', '.join(sorted(unknown))}")
    overrides = {}
    for key, value in settings.CONSENSUS_CONFIG.items():
        # JSON has no tuples or sets: the costs ([a, b]) and the review flags
        # arrive as lists.
        kind = type(getattr(defaults, key))
        overrides[key] = kind(value) if isinstance(value, list) and kind is not list else value
    return engine.EngineConfig(**overrides)


def reviews_per_day(language: str) -> int:
    """How many chunks of ``language`` its reviewers clear in a day."""
    return max(0, int(settings.REVIEWS_PER_DAY_BY_LANGUAGE.get(language, settings.REVIEWS_PER_DAY)))


def review_queue_has_room(*, language_id, code: str) -> bool:
    """Whether the language's review queue holds fewer chunks than its reviewers
    clear in a day. Counted up to that bound only, so it costs the same however
    long the queue has grown."""
    limit = reviews_per_day(code)
    waiting = Chunk.objects.filter(
        status=ChunkStatus.NEEDS_REVIEW, language_id=language_id
    ).order_by()  # no default ordering: it would join the recordings to sort them
    return waiting[:limit].count() < limit


def stop_threshold(language: str, config: engine.EngineConfig) -> float:
    """The stopping threshold in force for ``language`` (the configured start
    until the first chunk of the language finishes)."""
    value = (
        StoppingThreshold.objects.filter(language=language).values_list("value", flat=True).first()
    )
    return config.stop_expected_errors if value is None else value


def _advance_stop_threshold(
    language: str, transcripts_used: int, config: engine.EngineConfig
) -> None:
    """Move the threshold as ``engine.budget_threshold`` does, in one atomic
    UPDATE: concurrent decisions each apply their factor, none is lost."""
    low, high = engine.STOP_THRESHOLD_RANGE
    factor = engine.budget_factor(transcripts_used, config)
    rows = StoppingThreshold.objects.filter(language=language)
    advance = {
        "value": Greatest(Value(low), Least(Value(high), F("value") * Value(factor))),
        "chunks": F("chunks") + 1,
    }
    if rows.update(**advance):
        return
    start = engine.budget_threshold(config.stop_expected_errors, transcripts_used, config)
    _, created = StoppingThreshold.objects.get_or_create(
        language=language, defaults={"value": start, "chunks": 1}
    )
    if not created:
        # Another decision created the row first: apply this chunk's factor to it.
        rows.update(**advance)


def _listening(score: ReliabilityScore, config: engine.EngineConfig) -> engine.Reliability:
    """A contributor's listening reliability; the listener prior until a vote taught it."""
    if score.listen_alpha is None or score.listen_beta is None:
        return engine.reliability_prior(config, listening=True)
    return engine.Reliability(alpha=score.listen_alpha, beta=score.listen_beta)


def _reading(score: ReliabilityScore | None, config: engine.EngineConfig) -> engine.Reliability:
    """A contributor's reading reliability; the script prior until a chunk taught it."""
    if score is None or score.read_alpha is None or score.read_beta is None:
        return engine.reading_prior(config)
    return engine.Reliability(alpha=score.read_alpha, beta=score.read_beta)


def _with_reader(chunk: Chunk, config: engine.EngineConfig) -> engine.EngineConfig:
    """``config`` for deciding ``chunk``: its sentence starts at what its
    reader's record makes it worth (a new reader's: the script prior)."""
    if not chunk.expected_text:
        return config
    score = (
        ReliabilityScore.objects.filter(user_id=chunk.contributor_id, language=chunk.language.code)
        .only("read_alpha", "read_beta")
        .first()
    )
    if score is None or score.read_alpha is None:
        return config
    accuracy = engine.reading_accuracy(_reading(score, config), config)
    return dataclasses.replace(config, reader_accuracy=accuracy)


@dataclasses.dataclass(frozen=True)
class Standing:
    """How much a contributor's typing, or their votes, count in one language,
    for reviewers."""

    accuracy: float  # estimated accuracy (the prior mean for a newcomer)
    weight: float  # voting weight in log-odds; 0 = does not count
    newcomer: bool  # no record in this language yet
    blocked: bool

    def __str__(self) -> str:
        values = {"accuracy": f"{self.accuracy:.0%}", "weight": f"{self.weight:.2f}"}
        if self.blocked:
            return gettext("blocked: does not count")
        if self.weight <= 0.0:
            return gettext("%(accuracy)s, silenced: does not count") % values
        if self.newcomer:
            return gettext("%(accuracy)s (weight %(weight)s, newcomer)") % values
        return gettext("%(accuracy)s (weight %(weight)s)") % values


def contributor_standings(
    user_ids, language: str, config: engine.EngineConfig | None = None
) -> tuple[dict[int, Standing], dict[int, Standing]]:
    """Each contributor's :class:`Standing` in ``language`` as a typist and as a
    listener: how decisions weigh their transcriptions and their votes. A
    blocked contributor's work stays on record but counts 0."""
    config = config or engine_config()
    ids = set(user_ids)
    scores = {
        r.user_id: r for r in ReliabilityScore.objects.filter(user_id__in=ids, language=language)
    }
    blocked = blocked_user_ids(ids) if ids else set()
    typing, listening = {}, {}
    prior = engine.reliability_prior(config)
    listen_prior = engine.reliability_prior(config, listening=True)
    for user_id in ids:
        score = scores.get(user_id)
        typed = prior if score is None else engine.Reliability(score.alpha, score.beta)
        heard = listen_prior if score is None else _listening(score, config)
        out = user_id in blocked
        typing[user_id] = Standing(
            accuracy=typed.accuracy,
            weight=0.0 if out else engine.reliability_weight(typed, config),
            newcomer=score is None,
            blocked=out,
        )
        listening[user_id] = Standing(
            accuracy=heard.accuracy,
            weight=0.0 if out else engine.reliability_weight(heard, config, listening=True),
            newcomer=score is None or score.listen_votes == 0,
            blocked=out,
        )
    return typing, listening


def reader_standing(user_id, language: str, config: engine.EngineConfig | None = None) -> Standing:
    """How much a reader's sentences are believed before anyone listens: how
    often their chunks said their sentence, and the log-odds it starts at."""
    config = config or engine_config()
    score = ReliabilityScore.objects.filter(user_id=user_id, language=language).first()
    record = _reading(score, config)
    start = engine.reading_accuracy(record, config)
    return Standing(
        accuracy=record.accuracy,
        weight=engine.weight_from_accuracy(start),
        newcomer=score is None or score.readings == 0,
        blocked=False,
    )


def contributor_standing(
    user_ids, language: str, config: engine.EngineConfig | None = None
) -> dict[int, Standing]:
    """Each contributor's standing as a typist (see :func:`contributor_standings`)."""
    return contributor_standings(user_ids, language, config)[0]


def _transcripts(chunk: Chunk, config: engine.EngineConfig) -> list[engine.Transcript]:
    """Transcriptions and votes, plus reports as flag-only transcripts (they
    never vote). A vote weighs its listener's listening reliability."""
    language = chunk.language.code
    rows = list(Transcription.objects.filter(chunk=chunk).order_by("created_at", "id"))
    reports = list(TaskSkip.objects.filter(chunk=chunk, kind=SkipReason.REPORT).exclude(reason=""))
    typing, listening = contributor_standings([r.user_id for r in rows], language, config)
    transcripts = [
        engine.Transcript(
            contributor_id=str(r.user_id),
            raw_text=r.text,
            flags=frozenset(r.flags),
            weight=(typing if r.vote is None else listening)[r.user_id].weight,
            vote=r.vote,
        )
        for r in rows
    ]
    transcripts += [
        engine.Transcript(
            contributor_id=f"{REPORT}{r.user_id}", raw_text="", flags=frozenset({r.reason})
        )
        for r in reports
    ]
    return transcripts


def _typed(transcripts: list[engine.Transcript]) -> int:
    """Typed transcriptions among a chunk's judgements (not votes, not reports)."""
    return sum(1 for t in transcripts if t.vote is None and not t.contributor_id.startswith(REPORT))


def _people(evidence: dict[str, engine.Evidence]) -> dict[int, engine.Evidence]:
    return {int(k): v for k, v in evidence.items() if not k.startswith(REPORT)}


def _apply_evidence(
    language: str,
    config: engine.EngineConfig,
    *,
    typing: dict[str, engine.Evidence],
    listening: dict[str, engine.Evidence],
    reading: dict[str, engine.Evidence] | None = None,
) -> None:
    """Add typing, listening and reading evidence to reliability rows, locking
    them in user-id order (no deadlocks)."""
    typed, heard, read = _people(typing), _people(listening), _people(reading or {})
    ids = sorted(typed.keys() | heard.keys() | read.keys())
    if not ids:
        return
    rows = {
        r.user_id: r
        for r in ReliabilityScore.objects.select_for_update()
        .filter(user_id__in=ids, language=language)
        .order_by("user_id")
    }
    prior = engine.reliability_prior(config)
    for user_id in ids:
        row = rows.get(user_id) or ReliabilityScore(
            user_id=user_id, language=language, alpha=prior.alpha, beta=prior.beta
        )
        if user_id in typed:
            updated = engine.reliability_update(
                engine.Reliability(alpha=row.alpha, beta=row.beta), typed[user_id], config
            )
            row.alpha, row.beta, row.chunks = updated.alpha, updated.beta, row.chunks + 1
        if user_id in heard:
            updated = engine.reliability_update(
                _listening(row, config), heard[user_id], config, listening=True
            )
            row.listen_alpha, row.listen_beta = updated.alpha, updated.beta
            row.listen_votes += 1
        if user_id in read:
            updated = engine.reading_update(_reading(row, config), read[user_id], config)
            row.read_alpha, row.read_beta = updated.alpha, updated.beta
            row.readings += 1
        row.save()


def _learn(
    chunk: Chunk,
    transcripts: list[engine.Transcript],
    config: engine.EngineConfig,
    reviewed_text: str | None = None,
) -> None:
    """Move every transcriber's and listener's reliability by how they agreed
    with a finished chunk (leave-one-out), or with a reviewer's text; and the
    reader's, by whether the chunk says its sentence."""
    prior = chunk.expected_text or None
    read = engine.reading_evidence(
        transcripts, prior_text=prior, config=config, reviewed_text=reviewed_text
    )
    _apply_evidence(
        chunk.language.code,
        config,
        typing=engine.reliability_evidence(
            transcripts, prior_text=prior, config=config, reviewed_text=reviewed_text
        ),
        listening=engine.vote_evidence(
            transcripts, prior_text=prior, config=config, reviewed_text=reviewed_text
        ),
        reading={} if read is None else {str(chunk.contributor_id): read},
    )


def _record_engine_decision(
    chunk: Chunk, decision: engine.Decision, outcome: str, count: int, reason: str, audit: bool
) -> ConsensusDecision:
    """Store an engine decision and put its text on the chunk (not saved)."""
    confidence = max(0.0, 1.0 - decision.estimated_wer)
    record = ConsensusDecision.objects.create(
        chunk=chunk,
        outcome=outcome,
        text=decision.text,
        normalized_text=decision.normalized_text,
        confidence=confidence,
        word_confidence=[[w, round(c, 4)] for w, c in decision.words],
        estimated_wer=decision.estimated_wer,
        reason=reason[:300],
        audit=audit,
        transcription_count=count,
        method_version=decision.method_version,
        decided_by=DecidedBy.AUTO,
    )
    chunk.consensus_text = decision.text
    chunk.confidence = confidence
    chunk.word_confidence = record.word_confidence
    return record


def decide_enqueue_or_defer(*, chunk_id) -> None:
    """Ask a worker to decide the chunk; if the broker is down, leave it to
    :func:`chunks_sweep_undecided`. The transcription is already stored."""
    from consensus.tasks import consensus_decide as decide_task

    enqueue_or_defer(decide_task, str(chunk_id))


def consensus_decide_now(*, chunk_id) -> None:
    """Decide the chunk at once, in the request that stored its answer (after
    commit), so the next task request already sees what it asks for: a queue
    round trip made decisions lag bursts of submissions by up to a minute. If
    deciding fails (the database refused, a lock timed out), a worker decides
    it instead; the answer is stored either way."""
    try:
        consensus_decide(chunk_id=chunk_id)
    except Exception:
        logger.warning("Deciding chunk %s in the request failed; a worker will.", chunk_id,
                       exc_info=True)  # fmt: skip
        decide_enqueue_or_defer(chunk_id=chunk_id)


def chunks_sweep_undecided(*, now=None) -> int:
    """Enqueue a decision for open chunks that hold every transcription they
    asked for, yet nothing has happened to them for
    ``CONSENSUS_STUCK_AFTER_SECONDS``: the message asking for their decision
    was lost (the broker was down when the last transcription arrived, or
    forgot it). Without this such a chunk would wait forever, since it asks
    nobody for more work. A decision only moves a chunk on (it finishes it
    or raises what it needs), so a chunk swept needlessly costs one idempotent
    decision. Returns the chunks enqueued.
    """
    from consensus.tasks import consensus_decide as decide_task

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CONSENSUS_STUCK_AFTER_SECONDS)
    stuck = list(
        Chunk.objects.filter(
            status=ChunkStatus.OPEN,
            transcriptions_received__gt=0,
            transcriptions_received__gte=F("transcriptions_required"),
            updated_at__lt=stale,
        )
        .exclude(Exists(Transcription.objects.filter(chunk=OuterRef("pk"), created_at__gte=stale)))
        .values_list("id", flat=True)[: settings.CONSENSUS_SWEEP_BATCH]
    )
    # Touched, so the next sweep gives this attempt a full period.
    Chunk.objects.filter(pk__in=stuck).update(updated_at=now)
    for chunk_id in stuck:
        decide_task.delay(str(chunk_id))
    return len(stuck)


# Why a chunk was finished before anyone else answered (the rule's reason follows).
NOBODY_LEFT = "nobody left to ask"


def chunks_finish_unanswerable(*, now=None) -> int:
    """Finish the open chunks nobody is left to answer: every volunteer active
    in the language lately (``CONSENSUS_ACTIVE_DAYS``) answered, skipped or
    recorded it, and no answer came for ``CONSENSUS_IDLE_HOURS``. A small
    crowd would otherwise leave such a chunk open for good, asking for a
    fourth answer that only a newcomer could give, and out of the review
    queue too. The engine decides it with what it has, as at the maximum:
    validated, accepted, or in review where a review pays and the queue has
    room. The oldest-waiting chunks are checked first, at most
    ``CONSENSUS_SWEEP_BATCH`` a run; a chunk that still has someone to ask is
    touched, so the next run moves on to others. Returns the chunks finished.
    """
    now = now or timezone.now()
    idle_since = now - timedelta(hours=settings.CONSENSUS_IDLE_HOURS)
    active_since = now - timedelta(days=settings.CONSENSUS_ACTIVE_DAYS)
    waiting = list(
        Chunk.objects.filter(
            status=ChunkStatus.OPEN, transcriptions_received__gt=0, updated_at__lt=idle_since
        )
        .exclude(
            Exists(Transcription.objects.filter(chunk=OuterRef("pk"), created_at__gte=idle_since))
        )
        .exclude(Exists(TaskLease.objects.filter(chunk=OuterRef("pk"), expires_at__gt=now)))
        .order_by("updated_at")
        .values_list("id", "language_id", "contributor_id")[: settings.CONSENSUS_SWEEP_BATCH]
    )
    base = engine_config()
    finished, askable = 0, []
    for chunk_id, language_id, reader_id in waiting:
        answered = Transcription.objects.filter(chunk_id=chunk_id).values("user_id")
        skipped = TaskSkip.objects.filter(chunk_id=chunk_id).values("user_id")
        someone = (
            Transcription.objects.filter(
                chunk__language_id=language_id, created_at__gte=active_since
            )
            .exclude(user_id=reader_id)
            .exclude(user_id__in=answered)
            .exclude(user_id__in=skipped)
        )
        if someone.exists():
            askable.append(chunk_id)
            continue
        with transaction.atomic():
            judged = _judge(chunk_id, base, lock=True, more_answers=False)
            if judged is None or judged.decision.status == "need_more":
                continue
            reason = f"{NOBODY_LEFT}; {judged.decision.reason}"
            _write(dataclasses.replace(
                judged, decision=dataclasses.replace(judged.decision, reason=reason)
            ))  # fmt: skip
            finished += 1
    Chunk.objects.filter(pk__in=askable).update(updated_at=now)
    return finished


@dataclasses.dataclass(frozen=True)
class _Judged:
    """A chunk judged from its judgements as they stood when read."""

    chunk: Chunk
    config: engine.EngineConfig
    transcripts: list[engine.Transcript]
    decision: engine.Decision


def _judge(
    chunk_id, base: engine.EngineConfig, *, lock: bool, more_answers: bool = True
) -> _Judged | None:
    """Run the engine on an open chunk's judgements (None: nothing to decide).
    With ``lock`` the chunk row is read under its lock (inside a transaction)."""
    chunks = Chunk.objects.select_related("language").filter(pk=chunk_id)
    if lock:
        chunks = chunks.select_for_update(of=("self",))
    chunk = chunks.first()
    if chunk is None or chunk.status != ChunkStatus.OPEN:
        return None
    language = chunk.language.code
    config = dataclasses.replace(base, stop_expected_errors=stop_threshold(language, base))
    config = _with_reader(chunk, config)
    transcripts = _transcripts(chunk, config)
    if not transcripts:
        return None
    decision = engine.decide(
        transcripts,
        prior_text=chunk.expected_text or None,
        language=language,
        config=config,
        audit_key=str(chunk.pk),
        duration=chunk.duration,
        review_room=review_queue_has_room(language_id=chunk.language_id, code=language),
        more_answers=more_answers,
    )
    return _Judged(chunk, config, transcripts, decision)


def consensus_decide(*, chunk_id) -> ConsensusDecision | None:
    """Decide a chunk from its transcriptions so far. Idempotent and race-safe.

    The chunk is judged from a read without locks; its row is locked only to
    write the outcome, and only if no answer arrived since the read (its
    ``transcriptions_received`` is unchanged); otherwise it is judged again
    under the lock. Submissions for the chunk wait on that lock (they bump the
    counter), so a burst of them no longer queues behind whole decisions, and
    every decision still sees all committed transcriptions. A chunk already
    decided (validated, in review or rejected) is left alone; a decision
    identical to the last one is not recorded twice.
    """
    base = engine_config()
    judged = _judge(chunk_id, base, lock=False)
    return None if judged is None else _settle(judged, base)


def _settle(judged: _Judged, base: engine.EngineConfig) -> ConsensusDecision | None:
    """Write a lock-free judgement under the chunk's row lock, or judge the
    chunk again under it if an answer arrived since it was read."""
    with transaction.atomic():
        chunk = (
            Chunk.objects.select_for_update(of=("self",))
            .select_related("language")
            .filter(pk=judged.chunk.pk)
            .first()
        )
        if chunk is None or chunk.status != ChunkStatus.OPEN:
            return None
        if chunk.transcriptions_received == judged.chunk.transcriptions_received:
            judged = dataclasses.replace(judged, chunk=chunk)
        else:
            judged = _judge(chunk.pk, base, lock=True)
            if judged is None:
                return None
        return _write(judged)


def _write(judged: _Judged) -> ConsensusDecision:
    """Store a judgement and apply its outcome; the chunk row is locked."""
    chunk, config, transcripts, decision = (
        judged.chunk, judged.config, judged.transcripts, judged.decision
    )  # fmt: skip
    last = chunk.decisions.first()
    if (
        last is not None
        and last.transcription_count == len(transcripts)
        and last.outcome == decision.status
        and last.method_version == decision.method_version
    ):
        return last
    record = _record_engine_decision(
        chunk, decision, decision.status, len(transcripts), decision.reason, decision.audit
    )
    if decision.status != "need_more":
        # The chunk is finished: what its typing cost steers the next ones
        # (votes are cheap; the budget is one of typed transcripts).
        _advance_stop_threshold(chunk.language.code, _typed(transcripts), config)
    chunk.review_gain = decision.review_gain
    if decision.status == "validated":
        chunk.status = ChunkStatus.NEEDS_REVIEW if decision.audit else ChunkStatus.VALIDATED
    elif decision.status == "accepted":
        chunk.status = ChunkStatus.ACCEPTED
    elif decision.status == "needs_review":
        chunk.status = ChunkStatus.NEEDS_REVIEW
    else:
        chunk.transcriptions_required = max(
            chunk.transcriptions_required, chunk.transcriptions_received + 1
        )
        chunk.task_mode = decision.next_mode
    if decision.status in ("validated", "accepted"):
        # A chunk in review teaches when its reviewer decides it.
        _learn(chunk, transcripts, config)
    chunk.save(
        update_fields=[
            "status",
            "consensus_text",
            "confidence",
            "word_confidence",
            "transcriptions_required",
            "task_mode",
            "review_gain",
            "updated_at",
        ]
    )
    if chunk.status != ChunkStatus.OPEN:
        send_on_commit(chunk_decided, chunk_id=str(chunk.pk), status=chunk.status)
    return record


class ProposalChanged(ValueError):
    """The proposal a reviewer accepted is no longer the chunk's proposal."""


def chunk_review(
    *,
    chunk_id,
    reviewer,
    action: str,
    text: str | None = None,
    proposal: str | None = None,
) -> Chunk:
    """A reviewer's final word: ``accept`` the proposal, ``correct`` it, or ``reject``.

    Works on any chunk: one in review, or one the crowd accepted (accepting it
    promotes the crowd's text to validated). ``proposal`` is the text the
    reviewer was shown: the proposal can change
    while they look at it (a re-score after re-estimation, a blocked
    contributor), and accepting must never accept a text nobody saw.
    Accepted and corrected texts also teach reliabilities, typing and
    listening, with the reviewer's text as ground truth (counted
    ``reviewer_evidence_weight`` times).
    """
    if action not in {"accept", "correct", "reject"}:
        raise ValueError(f"unknown review action {action!r}")
    config = engine_config()
    with transaction.atomic():
        chunk = (
            Chunk.objects.select_for_update(of=("self",))
            .select_related("language")
            .get(pk=chunk_id)
        )
        if action == "accept" and proposal is not None and proposal != chunk.consensus_text:
            raise ProposalChanged(
                "The proposed text changed while you were reviewing it; "
                "read the new proposal and decide again."
            )
        final_text = chunk.consensus_text if action == "accept" else (text or "").strip()
        if action == "correct" and not final_text:
            raise ValueError("A correction needs the corrected text.")
        chunk.status = ChunkStatus.REJECTED if action == "reject" else ChunkStatus.VALIDATED
        if action != "reject":
            chunk.consensus_text = final_text
            chunk.confidence = 1.0
            chunk.word_confidence = [[w, 1.0] for w in engine.tokenize(final_text)]
            _learn(chunk, _transcripts(chunk, config), config, reviewed_text=final_text)
        chunk.save()
        ConsensusDecision.objects.create(
            chunk=chunk,
            outcome=chunk.status,
            text=chunk.consensus_text if action != "reject" else "",
            normalized_text=engine.normalize(final_text) if action != "reject" else "",
            confidence=chunk.confidence,
            word_confidence=chunk.word_confidence,
            reason=f"reviewer: {action}",
            transcription_count=chunk.transcriptions_received,
            method_version=engine.METHOD_VERSION,
            decided_by=DecidedBy.REVIEWER,
            reviewer=reviewer,
        )
        send_on_commit(chunk_decided, chunk_id=str(chunk.pk), status=chunk.status)
    return chunk


def chunks_rescore(chunk_ids, *, reason: str) -> int:
    """Decide finished chunks again with the reliabilities in force now.

    Only chunks whose newest decision is the engine's: a reviewer's word is
    final. The transcripts are the same, so only the text, its confidences and
    its tier can change (``engine.rescored_status``: validated and accepted may
    trade places); the chunk never reopens, and one in review (an audit sample
    too) stays there. A chunk whose row is locked (a reviewer or a
    decision is on it right now) is skipped; the next run takes it. Returns
    the chunks whose text or status changed.
    """
    config = engine_config()
    changed = 0
    for chunk_id in chunk_ids:
        with transaction.atomic():
            chunk = (
                Chunk.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("language")
                .filter(pk=chunk_id, status__in=FINISHED)
                .first()
            )
            last = chunk.decisions.first() if chunk is not None else None
            if last is None or last.decided_by != DecidedBy.AUTO:
                continue
            transcripts = _transcripts(chunk, config)
            decision = engine.decide(
                transcripts,
                prior_text=chunk.expected_text or None,
                language=chunk.language.code,
                config=_with_reader(chunk, config),
                audit_key=str(chunk.pk),
                duration=chunk.duration,
                # A re-score moves no finished chunk into the queue to be priced there.
                review_room=False,
            )
            previous = last.outcome if last.outcome in FINISHED else chunk.status
            outcome = engine.rescored_status(previous, decision)
            if outcome == previous and decision.normalized_text == last.normalized_text:
                continue
            _record_engine_decision(
                chunk,
                decision,
                outcome,
                len(transcripts),
                f"{reason}; {decision.reason}",
                last.audit and outcome == "validated",
            )
            if chunk.status != ChunkStatus.NEEDS_REVIEW:
                chunk.status = outcome
            chunk.review_gain = decision.review_gain
            # ``updated_at`` is left as it was: it orders the nightly window as
            # the chunks were decided (their evidence's age, for the decay) and
            # dates validations in the stats; a re-score is neither.
            chunk.save(update_fields=["status", "consensus_text", "confidence",
                                      "word_confidence", "review_gain"])  # fmt: skip
            changed += 1
    return changed


def chunks_rescore_for_contributors(user_ids, *, reason: str) -> int:
    """Re-score the finished chunks these contributors transcribed (after they
    were blocked or unblocked: their votes now count differently)."""
    chunk_ids = (
        Transcription.objects.filter(user_id__in=user_ids, chunk__status__in=FINISHED)
        .values_list("chunk_id", flat=True)
        .distinct()
    )
    return chunks_rescore(list(chunk_ids), reason=reason)


# Its reads may come from the replica; the writes, and the re-score's reads
# under row locks, are in transactions and so on the primary.
@replica_reads()
def reliability_reestimate(*, language: str, limit: int | None = None) -> int:
    """Re-estimate every contributor's reliability in ``language`` jointly (EM).

    Online updates judge each chunk with the weights known when it was decided,
    which for a newcomer's first chunks are only the prior. This batch job
    re-judges the most recent ``limit`` decided chunks with the current
    weights, rebuilds the posteriors in decision order and stores them, so
    later decisions use the better estimates, then re-scores those chunks'
    automatic texts with them. Returns the contributors updated.
    """
    config = engine_config()
    limit = limit or settings.RELIABILITY_REESTIMATE_CHUNKS
    decided = (
        Chunk.objects.filter(
            language__code=language,
            status__in=FINISHED,
        )
        .order_by("-updated_at")
        .values_list("id", "expected_text", "consensus_text")[:limit]
    )
    rows = list(decided)[::-1]  # chronological, as the posteriors are built
    if not rows:
        return 0
    reviewed = set(
        ConsensusDecision.objects.filter(
            chunk_id__in=[r[0] for r in rows], decided_by=DecidedBy.REVIEWER
        ).values_list("chunk_id", flat=True)
    )
    texts: dict = {}
    for chunk_id, user_id, text, flags, vote in (
        Transcription.objects.filter(chunk_id__in=[r[0] for r in rows])
        .order_by("created_at", "id")
        .values_list("chunk_id", "user_id", "text", "flags", "vote")
        .iterator(chunk_size=5000)
    ):
        texts.setdefault(chunk_id, []).append(
            engine.Transcript(str(user_id), text, frozenset(flags or []), vote=vote)
        )
    chunks = [
        engine.DecidedChunk(
            transcripts=tuple(texts.get(chunk_id, ())),
            prior_text=expected or None,
            reviewed_text=consensus if chunk_id in reviewed else None,
        )
        for chunk_id, expected, consensus in rows
        if texts.get(chunk_id)
    ]
    users = {int(t.contributor_id) for chunk in chunks for t in chunk.transcripts}
    state = engine.reestimate(
        chunks,
        language=language,
        config=config,
        silenced=frozenset(str(u) for u in blocked_user_ids(users)),
    )
    estimates = {int(cid): rel for (cid, lang), rel in state.items() if lang == language}
    with transaction.atomic():
        existing = {
            r.user_id: r
            for r in ReliabilityScore.objects.select_for_update()
            .filter(language=language, user_id__in=list(estimates))
            .order_by("user_id")
        }
        for user_id, rel in sorted(estimates.items()):
            row = existing.get(user_id) or ReliabilityScore(user_id=user_id, language=language)
            row.alpha, row.beta = rel.alpha, rel.beta
            row.save()
    # The proposals were made with the weights of their day: the engine's
    # texts are re-scored with the new ones (reviewers' texts stay).
    chunks_rescore(
        [chunk_id for chunk_id, _, _ in rows if chunk_id not in reviewed],
        reason="re-scored with re-estimated reliabilities",
    )
    return len(estimates)


def reliability_reestimate_all() -> dict[str, int]:
    from recordings.models import Language

    return {
        code: reliability_reestimate(language=code)
        for code in Language.objects.filter(active=True).values_list("code", flat=True)
    }
