"""The nightly re-estimation at production size: 50,000 finished chunks.

``consensus.reestimate`` re-judges the most recent ``RELIABILITY_REESTIMATE_CHUNKS``
finished chunks of a language with every contributor's current weight, rebuilds
all reliabilities jointly (``engine.reestimate``, EM in pure Python), stores
them, then re-scores each of those chunks in its own transaction under a row
lock (``chunks_rescore``). The Celery task must finish within its 50-minute soft
limit, for every active language in turn.

Builds a scratch PostgreSQL database with ``--chunks`` finished chunks in one
language, each holding the first ``--transcripts`` real CrowdSpeech dev-clean
transcripts of a clip (the clips in turn, each CrowdSpeech worker a contributor)
and one engine decision. The decisions, and the reliabilities the contributors
start from, are those of the engine once it has learned the workers from every
clip, so some chunks are validated and most wait in review, as the platform
holds them. Then, in the same run:

- the reference: a bare read of the rows the job reads (the chunks and their
  transcriptions, the same queries, no processing);
- ``reliability_reestimate(language=..., limit=--chunks)`` as the task runs it,
  timed per phase by wrapping, inside this process only, the engine's
  ``reestimate`` and the job's call to ``chunks_rescore``: reading, the EM
  alone (the same in-memory chunks the job built), storing the reliabilities,
  re-scoring (and within it ``engine.decide``). The first ``--sample`` chunks
  re-scored have their queries captured, for queries per chunk and where the
  database time goes.

Prints one JSON object: the phase times, the job's ratio to the bare read, the
re-score per chunk, how many chunks changed, and peak RSS.

Shape: the deployed database (PostgreSQL, a scratch database), with the job's
service called in this process as the Celery task calls it. The job touches
only the database, so no web server, broker or storage is started.

    .venv/bin/python bench/reestimate.py [--chunks 50000] [--transcripts 4] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import resource
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path
from unittest import mock

from common import consented_users, django_env, drop_database, setup_django

DB = "shrutik_bench_reestimate"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "crowdspeech"
LANGUAGE = "en"


def chunk_id(g: int) -> uuid.UUID:
    """The id chunk ``g`` gets in SQL: md5('bench-chunk' || g)::uuid."""
    return uuid.UUID(hashlib.md5(f"bench-chunk{g}".encode()).hexdigest())


def learned_clips(transcripts: int) -> tuple[list, object]:
    """The dev-clean clips cut to their first ``transcripts``, and the
    reliabilities the engine learns from all of them."""
    from consensus import engine
    from consensus.engine.evaluate import load_crowdspeech
    from consensus.services import engine_config

    clips = load_crowdspeech(DATA / "dev-clean-crowd.tsv", DATA / "dev-clean-gt.txt")
    clips = [c for c in clips if len(c.transcripts) >= transcripts]
    if not clips:
        raise SystemExit(f"no dev-clean clip has {transcripts} transcripts")
    decided = [
        engine.DecidedChunk(
            tuple(engine.Transcript(w, t, f) for w, t, f in c.transcripts[:transcripts])
        )
        for c in clips
    ]
    state = engine.reestimate(decided, language=LANGUAGE, config=engine_config())
    return [d.transcripts for d in decided], state


def build(chunks: int, transcripts: int) -> dict[str, int]:
    from django.db import connection

    from consensus import engine
    from consensus.models import DecidedBy
    from consensus.services import engine_config
    from contributors.models import ReliabilityScore
    from recordings.tests.factories import LanguageFactory, make_chunks

    config = engine_config()
    clips, state = learned_clips(transcripts)
    language = LanguageFactory(code=LANGUAGE, name="English", native_name="English")
    (first,) = make_chunks(1, language=language)
    workers = sorted({t.contributor_id for clip in clips for t in clip}, key=int)
    users = consented_users(f"crowd{w}" for w in workers)
    user_of = {w: u.pk for w, u in zip(workers, users, strict=True)}
    per_worker = Counter(t.contributor_id for clip in clips for t in clip)
    ReliabilityScore.objects.bulk_create(
        ReliabilityScore(
            user_id=user_of[w],
            language=LANGUAGE,
            alpha=state.get(w, LANGUAGE).alpha,
            beta=state.get(w, LANGUAGE).beta,
            chunks=per_worker[w] * (chunks // len(clips) + 1),
        )
        for w in workers
    )

    # One decision per clip, with the learned weights; reused by every chunk of the clip.
    clip_rows, take_rows, validated = [], [], []
    for k, clip in enumerate(clips):
        weighted = [
            engine.Transcript(
                t.contributor_id, t.raw_text, t.flags, state.weight(t.contributor_id, LANGUAGE)
            )
            for t in clip
        ]
        decision = engine.decide(weighted, language=LANGUAGE, config=config)
        outcome = "validated" if decision.status == "validated" else "needs_review"
        if outcome == "validated":
            validated.append(k)
        clip_rows.append(
            (
                k,
                outcome,
                decision.text,
                decision.normalized_text,
                max(0.0, 1.0 - decision.estimated_wer),
                json.dumps([[w, round(c, 4)] for w, c in decision.words]),
                decision.estimated_wer,
                decision.reason[:300],
                decision.method_version,
            )
        )
        take_rows += [
            (k, j, user_of[t.contributor_id], t.raw_text, engine.normalize(t.raw_text))
            for j, t in enumerate(clip)
        ]
    # A validated decision goes to review as well when its chunk draws an audit.
    validated_set = set(validated)
    audited = [
        g
        for g in range(1, chunks + 1)
        if g % len(clips) in validated_set
        and engine.audit_draw(str(chunk_id(g)), config.audit_salt) < config.audit_rate
    ]

    params = {
        "recording": str(first.recording_id),
        "language": first.language_id,
        "contributor": first.contributor_id,
        "n": chunks,
        "clips": len(clips),
        "audited": audited,
        "auto": DecidedBy.AUTO.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_clip (k int PRIMARY KEY, outcome text, text text, "
            "normalized_text text, confidence float, word_confidence jsonb, "
            "estimated_wer float, reason text, method_version text)"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_take (k int, j int, user_id bigint, text text, "
            "normalized_text text)"
        )
        cursor.executemany(
            "INSERT INTO bench_clip VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", clip_rows
        )
        cursor.executemany("INSERT INTO bench_take VALUES (%s, %s, %s, %s, %s)", take_rows)
        # Chunk g was decided n - g minutes ago, an hour after it was cut; its
        # transcriptions came in five minutes apart from ten minutes after.
        cursor.execute(
            """
            INSERT INTO recordings_chunk (id, recording_id, language_id, contributor_id,
              index, start, "end", duration, audio, expected_text, status,
              transcriptions_required, transcriptions_received, consensus_text, confidence,
              word_confidence, created_at, updated_at)
            SELECT md5('bench-chunk' || g)::uuid, %(recording)s, %(language)s, %(contributor)s,
              g, 3.0 * g, 3.0 * g + 2.5, 2.5, 'chunks/b/' || g || '.flac', '',
              CASE WHEN c.outcome = 'validated' AND g <> ALL(%(audited)s::int[]) THEN 'validated'
                   ELSE 'needs_review' END,
              t.n, t.n, c.text, c.confidence, c.word_confidence,
              now() - make_interval(mins => %(n)s - g + 60),
              now() - make_interval(mins => %(n)s - g)
            FROM generate_series(1, %(n)s) g
            JOIN bench_clip c ON c.k = g %% %(clips)s
            JOIN (SELECT k, count(*) AS n FROM bench_take GROUP BY k) t ON t.k = c.k
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO transcriptions_transcription (chunk_id, user_id, text, normalized_text,
              flags, source, created_at)
            SELECT md5('bench-chunk' || g)::uuid, t.user_id, t.text, t.normalized_text, '[]',
              'typed', now() - make_interval(secs => (%(n)s - g) * 60 + 3000 - 300 * t.j)
            FROM generate_series(1, %(n)s) g
            JOIN bench_take t ON t.k = g %% %(clips)s
            ORDER BY g, t.j
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO consensus_consensusdecision (chunk_id, outcome, text, normalized_text,
              confidence, word_confidence, estimated_wer, reason, audit, transcription_count,
              method_version, decided_by, created_at)
            SELECT md5('bench-chunk' || g)::uuid, c.outcome, c.text, c.normalized_text,
              c.confidence, c.word_confidence, c.estimated_wer, c.reason,
              g = ANY(%(audited)s::int[]), ch.transcriptions_received, c.method_version, %(auto)s,
              ch.updated_at
            FROM generate_series(1, %(n)s) g
            JOIN bench_clip c ON c.k = g %% %(clips)s
            JOIN recordings_chunk ch ON ch.id = md5('bench-chunk' || g)::uuid
            """,
            params,
        )
        cursor.execute("DROP TABLE bench_clip, bench_take")
        for table in (
            "contributors_user",
            "contributors_reliabilityscore",
            "recordings_chunk",
            "transcriptions_transcription",
            "consensus_consensusdecision",
        ):
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT count(*) FILTER (WHERE status = 'validated') FROM recordings_chunk")
        (validated_chunks,) = cursor.fetchone()
    return {
        "clips": len(clips),
        "contributors": len(workers),
        "validated_chunks": validated_chunks,
        "audited_chunks": len(audited),
    }


def reference_read(limit: int) -> float:
    """The chunk rows and transcription rows the job reads, and nothing else."""
    from consensus.services import FINISHED
    from recordings.models import Chunk
    from transcriptions.models import Transcription

    started = time.perf_counter()
    ids = [
        row[0]
        for row in Chunk.objects.filter(language__code=LANGUAGE, status__in=FINISHED)
        .order_by("-updated_at")
        .values_list("id", "expected_text", "consensus_text")[:limit]
    ]
    for _ in (
        Transcription.objects.filter(chunk_id__in=ids)
        .order_by("created_at", "id")
        .values_list("chunk_id", "user_id", "text", "flags")
        .iterator(chunk_size=5000)
    ):
        pass
    return time.perf_counter() - started


def label(sql: str) -> str:
    """A query's verb and first table: 'SELECT recordings_chunk'."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table else verb


class QueryTimes(logging.Handler):
    """Every query Django logs while its queries are captured, with its time
    unrounded (the captured list keeps whole milliseconds)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.queries: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "sql"):
            self.queries.append((record.sql, record.duration * 1000))

    def __enter__(self) -> QueryTimes:
        logger = logging.getLogger("django.db.backends")
        self.saved = logger.level, logger.propagate
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logger = logging.getLogger("django.db.backends")
        logger.removeHandler(self)
        logger.level, logger.propagate = self.saved


def timed_job(limit: int, sample: int) -> dict:
    """``reliability_reestimate`` as the task runs it, with its phases timed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consensus import services

    marks: dict[str, float] = {}
    rescore: dict = {"changed": 0, "decide_s": 0.0}
    real_reestimate, real_rescore, real_decide = (
        services.engine.reestimate,
        services.chunks_rescore,
        services.engine.decide,
    )

    def reestimate(*args, **kwargs):
        marks["reestimate_in"] = time.perf_counter()
        try:
            return real_reestimate(*args, **kwargs)
        finally:
            marks["reestimate_out"] = time.perf_counter()

    def decide(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real_decide(*args, **kwargs)
        finally:
            rescore["decide_s"] += time.perf_counter() - started

    def chunks_rescore(chunk_ids, *, reason):
        marks["rescore_in"] = time.perf_counter()
        chunk_ids = list(chunk_ids)
        rescore["chunks"] = len(chunk_ids)
        with CaptureQueriesContext(connection) as captured, QueryTimes() as timed:
            started = time.perf_counter()
            rescore["changed"] += real_rescore(chunk_ids[:sample], reason=reason)
            rescore["sample_s"] = time.perf_counter() - started
        rescore["captured"], rescore["queries"] = len(captured), timed.queries
        with mock.patch.object(services.engine, "decide", decide):
            rescore["changed"] += real_rescore(chunk_ids[sample:], reason=reason)
        marks["rescore_out"] = time.perf_counter()
        return rescore["changed"]

    with (
        mock.patch.object(services.engine, "reestimate", reestimate),
        mock.patch.object(services, "chunks_rescore", chunks_rescore),
    ):
        started = time.perf_counter()
        updated = services.reliability_reestimate(language=LANGUAGE, limit=limit)
        job_s = time.perf_counter() - started

    sampled = min(sample, rescore["chunks"])
    rest = rescore["chunks"] - sampled
    per_label: dict[str, list[float]] = {}
    for sql, ms in rescore["queries"]:
        per_label.setdefault(label(sql), []).append(ms)
    db_ms = sum(ms for _, ms in rescore["queries"])
    slowest = sorted(((ms, sql[:90]) for sql, ms in rescore["queries"]), reverse=True)
    return {
        "contributors_updated": updated,
        "job_s": job_s,
        "read_s": marks["reestimate_in"] - started,
        "engine_reestimate_s": marks["reestimate_out"] - marks["reestimate_in"],
        "store_reliabilities_s": marks["rescore_in"] - marks["reestimate_out"],
        "rescore_s": marks["rescore_out"] - marks["rescore_in"],
        "rescore_chunks": rescore["chunks"],
        "rescore_changed": rescore["changed"],
        "rescore_decide_ms_per_chunk": rescore["decide_s"] * 1000 / rest if rest else None,
        "sample_chunks": sampled,
        "sample_ms_per_chunk": rescore["sample_s"] * 1000 / sampled if sampled else None,
        "sample_queries_per_chunk": rescore["captured"] / sampled if sampled else None,
        "sample_db_ms_per_chunk": db_ms / sampled if sampled else None,
        "sample_queries": {
            name: {
                "per_chunk": round(len(v) / sampled, 2),
                "ms_per_chunk": round(sum(v) / sampled, 3),
            }
            for name, v in sorted(per_label.items(), key=lambda kv: -sum(kv[1]))
        }
        if sampled
        else {},
        "sample_slowest_queries_ms": [(round(ms, 2), sql) for ms, sql in slowest[:3]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--transcripts", type=int, default=4, help="per chunk (mean is 4.4)")
    parser.add_argument("--sample", type=int, default=200, help="re-scored chunks to capture")
    parser.add_argument("--repeat", type=int, default=3, help="of the bare read")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    env = django_env(DB, ALLOWED_HOSTS="testserver")
    setup_django(env, DB)
    from django.db import connection

    from consensus.tasks import reliability_reestimate as task

    try:
        started = time.perf_counter()
        built = build(args.chunks, args.transcripts)
        built_s = time.perf_counter() - started
        read_s = statistics.median(reference_read(args.chunks) for _ in range(args.repeat))
        rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        job = timed_job(args.chunks, args.sample)
    finally:
        connection.close()
        if not args.keep:
            drop_database(DB)

    def ms(value):
        return None if value is None else round(value, 2)

    print(
        json.dumps(
            {
                "chunks": args.chunks,
                "transcripts_per_chunk": args.transcripts,
                **built,
                "build_seconds": round(built_s, 1),
                "reference_read_s": round(read_s, 2),
                "job_s": round(job["job_s"], 1),
                "job_ratio_to_reference_read": round(job["job_s"] / read_s, 1),
                "job_share_of_soft_time_limit": round(job["job_s"] / task.soft_time_limit, 3),
                "job_read_s": round(job["read_s"], 2),
                "engine_reestimate_s": round(job["engine_reestimate_s"], 1),
                "store_reliabilities_s": round(job["store_reliabilities_s"], 2),
                "rescore_s": round(job["rescore_s"], 1),
                "rescore_ms_per_chunk": round(job["rescore_s"] * 1000 / job["rescore_chunks"], 2),
                "rescore_decide_ms_per_chunk": ms(job["rescore_decide_ms_per_chunk"]),
                "rescore_chunks": job["rescore_chunks"],
                "rescore_changed": job["rescore_changed"],
                "contributors_updated": job["contributors_updated"],
                "sample_chunks": job["sample_chunks"],
                "sample_ms_per_chunk": ms(job["sample_ms_per_chunk"]),
                "sample_queries_per_chunk": ms(job["sample_queries_per_chunk"]),
                "sample_db_ms_per_chunk": ms(job["sample_db_ms_per_chunk"]),
                "sample_queries": job["sample_queries"],
                "sample_slowest_queries_ms": job["sample_slowest_queries_ms"],
                "peak_rss_before_job_mb": round(rss_before_mb),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
