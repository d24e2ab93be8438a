"""Human effort per finished chunk: the running app, real readings, simulated volunteers.

Serves the real app in ``--shape deployed`` (bench/common.py: a scratch
PostgreSQL database, a private Redis, S3 on moto's server, the web server as
docker-compose.yml runs it and a Celery worker) or ``--shape embedded``
(``make run``'s: ``manage.py run_embedded`` with SQLite, files and the
filesystem broker in a scratch directory), and drives it over HTTP:

1. Readers (one per language, registered through the API) upload the
   recordings of ``--sets`` (``speech``: ../shared/data/speech; ``hard``:
   bench/out/hard, built by bench/data/make_hard_set.py when missing) with
   POST /api/recordings/, and the worker cuts them into chunks.
2. Each chunk's true text is what was said during it: the true sentence
   timings of the recording's JSON, each sentence's words spread evenly over
   its time, cut at the chunk's start and end. Where the reader left the
   script (the hard set's ``in_script`` false, skips, repeats) or the
   segmenter put a sentence on the wrong chunk, the true text differs from the
   chunk's expected sentence.
3. ``--volunteers`` volunteers (registered through the API, consent given)
   ask GET /api/tasks/next/?language=&count= without a mode, so the server
   picks each task, and answer every item as its ``mode`` says. Verify: "it
   matches" iff the true text equals the expected sentence after the engine's
   normalisation (``transcriptions.normalize.tokenize``), flipped with
   probability ``--vote-error``. Transcribe: the true text, typed with word
   errors at ``--typo-rate`` (misspelt or wrong, dropped and inserted words,
   as consensus/engine/simulate.py's typists make them), and with
   ``--wrong-transcripts`` a share of the transcripts with exactly one word
   wrong (the issue's "10% of the typed transcripts missed one word"; the
   word error rate spreads errors over every word, so at 10% two thirds of
   ten-word transcripts are wrong somewhere); nothing typed and the
   flag "empty" when the chunk holds no speech. A share ``--sloppy`` of the
   volunteers err three times as often; a share ``--spammers`` vote at random
   and type random words of the language. Nobody sees anyone else's answer.
   Submissions are paced at ``--rate`` per second overall (Poisson arrivals).
   The run ends when no volunteer has been offered work for ``--idle``
   seconds (nothing open is left that they may still take) or after
   ``--seconds``.

Reader deviation (``--deviation``): audio cannot be changed, so the script
is. Before upload, each sentence the reader actually read has, with this
probability, one word replaced in the script the reader was given (by another
word of the same language's scripts, keeping its punctuation). The chunk that
holds it then expects a sentence that differs from what is said, exactly as if
the reader had read the original sentence instead of the one on screen.

Printed (``--json PATH`` also writes them):

- judgements per finished chunk (validated, accepted or in review), by kind:
  verify (votes), transcribe (typed), review (one per chunk in review);
- human seconds per validated minute of audio, with each judgement priced by
  the engine's own costs (CONSENSUS_CONFIG: a vote = clip + 3 s, a transcript
  = 4 × clip + 5 s, a review = 6 × clip + 10 s of a reviewer, who costs
  ``reviewer_price`` volunteer seconds; ``--vote-cost`` etc. override them);
  chunks in review count as validated minutes, their review is in the cost;
- the shares validated, accepted and in review (audit samples apart), WER per
  tier (the chunk's text against its true text) and chunks left open;
- decision lag p50/p99, from the database: each submission's row
  (Transcription.created_at) to the first ConsensusDecision of its chunk that
  counts it; and the same from the moment the client had the answer.

Goals: perfect volunteers ≤ 2.1 judgements per finished chunk, nothing in
review, nothing open; 10% wrong answers and 5% reader deviation ≤ 2.6
judgements, ≤ 5% in review, validated WER ≤ 1%; decision lag p99 ≤ 2 s at
20 submissions per second.

    .venv/bin/python bench/human_effort.py                                  # perfect
    .venv/bin/python bench/human_effort.py --vote-error 0.1 --typo-rate 0.1 --deviation 0.05
    .venv/bin/python bench/human_effort.py --spammers 0.1 --sloppy 0.2 --vote-error 0.1 \\
        --typo-rate 0.1 --deviation 0.05
    .venv/bin/python bench/human_effort.py --shape embedded --rate 20

Loopback only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import regex
from common import (
    ROOT,
    Services,
    embedded_env,
    pct,
    release_database,
    server_times,
    setup_django,
    start_embedded,
    start_server,
    start_worker,
    stop,
    summarise,
)

sys.path.insert(0, str(ROOT))

from consensus.engine.replay import word_errors
from consensus.engine.simulate import Profile, _transcribe, mistype
from transcriptions.normalize import tokenize

DB = "shrutik_bench_human_effort"
SETS = {
    "speech": ROOT.parent / "shared" / "data" / "speech",
    "hard": ROOT / "bench" / "out" / "hard",
}
LANGUAGES = {
    "bn": ("Bangla", "বাংলা"),
    "en": ("English", "English"),
    "es": ("Spanish", "Español"),
    "hi": ("Hindi", "हिन्दी"),
}
PASSWORD = "a bench volunteer's pass phrase"
CONTENT_TYPES = {".webm": "audio/webm", ".ogg": "audio/ogg"}
FINISHED = ("validated", "accepted", "needs_review")
TRAILING_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]*$")


# --- Readings and what each chunk really says ---------------------------------


@dataclass
class Reading:
    name: str
    lang: str
    audio: Path
    script: str  # as given to the reader: with --deviation, some words differ
    spoken: list[dict]  # the true sentences: text, start, end, in_script
    deviated: dict[str, str]  # sentence read -> the script's version of it


def _split_word(word: str) -> tuple[str, str]:
    tail = TRAILING_PUNCTUATION.search(word).group()
    return word[: len(word) - len(tail)], tail


def vocabularies(metas: list[dict]) -> dict[str, list[str]]:
    """The words of each language's scripts, without punctuation."""
    words: dict[str, set[str]] = {}
    for meta in metas:
        for word in meta["script"].split():
            core = _split_word(word)[0]
            if tokenize(core):
                words.setdefault(meta["lang"], set()).add(core)
    return {lang: sorted(found) for lang, found in words.items()}


def _one_word_changed(sentence: str, rng: random.Random, vocabulary: list[str]) -> str | None:
    words = sentence.split()
    for _ in range(20):
        position = rng.randrange(len(words))
        core, tail = _split_word(words[position])
        other = rng.choice(vocabulary)
        if tokenize(core) and tokenize(other) != tokenize(core):
            return " ".join([*words[:position], other + tail, *words[position + 1 :]])
    return None


def load_readings(sets: list[str], limit: int | None, deviation: float, seed: int) -> list[Reading]:
    metas = []
    for name in sets:
        folder = SETS[name]
        if name == "hard" and not any(folder.glob("*.json")):
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "data" / "make_hard_set.py")], check=True
            )
        files = sorted(folder.resolve().glob("*.json"))[:limit]
        metas += [(path, json.loads(path.read_text())) for path in files]
    words = vocabularies([meta for _, meta in metas])
    rng = random.Random(seed)
    # Exactly the share asked for (rounded), of the sentences read from the scripts.
    read = [
        (index, sentence)
        for index, (_, meta) in enumerate(metas)
        for sentence in dict.fromkeys(s["text"] for s in meta["sentences"] if s["in_script"])
        if sentence in meta["script"]
    ]
    chosen = set(rng.sample(read, round(deviation * len(read))))
    readings = []
    for index, (path, meta) in enumerate(metas):
        script, deviated = meta["script"], {}
        for _, sentence in sorted(pair for pair in chosen if pair[0] == index):
            changed = _one_word_changed(sentence, rng, words[meta["lang"]])
            if changed:
                script = script.replace(sentence, changed, 1)
                deviated[sentence] = changed
        readings.append(
            Reading(
                name=f"{path.parent.name}/{meta['name']}",
                lang=meta["lang"],
                audio=path.with_name(meta["file"]),
                script=script,
                spoken=meta["sentences"],
                deviated=deviated,
            )
        )
    return readings


def spoken_text(start: float, end: float, sentences: list[dict]) -> str:
    """The words said between ``start`` and ``end``: each sentence's words
    spread evenly over its time, a sentence cut by the chunk's edges cut at
    the same share of its words."""
    words: list[str] = []
    for sentence in sentences:
        length = sentence["end"] - sentence["start"]
        low, high = max(start, sentence["start"]), min(end, sentence["end"])
        if length <= 0 or high <= low:
            continue
        parts = sentence["text"].split()
        first = round((low - sentence["start"]) / length * len(parts))
        last = round((high - sentence["start"]) / length * len(parts))
        words += parts[first:last]
    return " ".join(words)


@dataclass
class ChunkTruth:
    id: str
    lang: str
    duration: float
    expected: str
    spoken: str
    # The reader's script was edited for this chunk's sentence (--deviation).
    deviated: bool

    @property
    def says_expected(self) -> bool:
        return bool(self.expected) and tokenize(self.expected) == tokenize(self.spoken)


# --- Volunteers -----------------------------------------------------------------


@dataclass
class Volunteer:
    name: str
    kind: str  # careful, sloppy or spammer
    vote_error: float
    word_error: float
    # A share of typed transcripts with exactly one word wrong (the rest
    # exact): "10% wrong answers" for typists, where word_error spreads
    # errors over every word.
    wrong_transcripts: float
    rng: random.Random
    headers: dict[str, str] = field(default_factory=dict)

    def vote(self, says_it: bool) -> bool:
        if self.kind == "spammer":
            return self.rng.random() < 0.5
        return says_it != (self.rng.random() < self.vote_error)

    def type(self, spoken: str, vocabulary: list[str]) -> str:
        if self.kind == "spammer":
            return " ".join(self.rng.choice(vocabulary) for _ in range(self.rng.randint(2, 8)))
        profile = Profile(self.kind, self.word_error, 0.0)
        words = _transcribe(spoken.split(), self.rng, profile, 1.0, None, vocabulary)
        if words and self.rng.random() < self.wrong_transcripts:
            at = self.rng.randrange(len(words))
            words[at : at + 1] = mistype(words[at], self.rng, vocabulary)
        return " ".join(words)


def volunteers(args) -> list[Volunteer]:
    spammers = round(args.volunteers * args.spammers)
    sloppy = round(args.volunteers * args.sloppy)
    out = []
    for index in range(args.volunteers):
        kind = (
            "spammer" if index < spammers else "sloppy" if index < spammers + sloppy else "careful"
        )
        factor = 3.0 if kind == "sloppy" else 1.0
        out.append(
            Volunteer(
                name=f"volunteer{index:03d}",
                kind=kind,
                vote_error=min(0.5, factor * args.vote_error),
                word_error=min(0.9, factor * args.typo_rate),
                wrong_transcripts=min(0.9, factor * args.wrong_transcripts),
                rng=random.Random(args.seed * 1000 + index),
            )
        )
    return out


@dataclass
class Submission:
    kind: str  # verify or transcribe
    chunk: str
    status: int
    answered_at: float  # epoch seconds, when the client had the answer
    transcription: int | None


@dataclass
class Run:
    submissions: list[Submission] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=dict)
    status: dict[str, Counter] = field(default_factory=dict)
    # Requests that got no HTTP answer: what, the error, after how long.
    transport_errors: list[str] = field(default_factory=list)
    server_side: dict = field(default_factory=dict)
    last_work: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    done: bool = False

    async def request(self, client, name: str, method: str, url: str, **kwargs):
        """The response, its latency and status recorded; None when no
        answer came (a submission's fate is then unknown, and reported)."""
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            self.transport_errors.append(f"{name} {url}: {exc!r} after {elapsed:.0f} ms")
            return None
        self.latency.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        self.status.setdefault(name, Counter())[response.status_code] += 1
        return response


class Pacer:
    """Submission slots at ``rate`` per second overall, Poisson arrivals; a
    late volunteer takes the next slot from now, so lost time is never caught
    up in a burst. No rate: no pause."""

    def __init__(self, rate: float | None, seed: int):
        self.rate, self.rng, self.next = rate, random.Random(seed), time.monotonic()

    async def slot(self) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        at = max(self.next, now)
        self.next = at + self.rng.expovariate(self.rate)
        await asyncio.sleep(at - now)


async def answer(client, volunteer, item, truth, words, run: Run) -> None:
    chunk = truth.get(item["chunk"])
    if chunk is None:
        # Not a chunk of this run's readings: give it back untouched.
        url = f"/api/tasks/{item['chunk']}/release/"
        await run.request(client, "release", "POST", url, headers=volunteer.headers)
        return
    if item["mode"] == "verify":
        says = bool(item["expected_text"]) and tokenize(item["expected_text"]) == tokenize(
            chunk.spoken
        )
        url, body = f"/api/tasks/{chunk.id}/verify/", {"matches": volunteer.vote(says)}
    else:
        text = volunteer.type(chunk.spoken, words[chunk.lang]) if chunk.spoken else ""
        url, body = "/api/transcriptions/", {"chunk": chunk.id, "text": text}
        if not text:
            body["flags"] = ["empty"]
    response = await run.request(
        client, item["mode"], "POST", url, json=body, headers=volunteer.headers
    )
    if response is None:
        return
    created = response.status_code == 201
    run.submissions.append(
        Submission(
            kind=item["mode"],
            chunk=chunk.id,
            status=response.status_code,
            answered_at=time.time(),
            transcription=response.json()["id"] if created else None,
        )
    )


async def volunteer_loop(client, volunteer, order, args, truth, words, pacer, run: Run):
    while not run.done:
        offered = False
        for lang in order:
            response = await run.request(
                client, "tasks_next", "GET", "/api/tasks/next/",
                params={"language": lang, "count": args.count}, headers=volunteer.headers,
            )  # fmt: skip
            items = response.json() if response is not None and response.status_code == 200 else []
            if not items:
                continue
            offered = True
            run.in_flight += 1
            try:
                for item in items:
                    await pacer.slot()
                    if run.done:
                        break
                    await answer(client, volunteer, item, truth, words, run)
            finally:
                run.in_flight -= 1
                run.last_work = time.monotonic()
            break
        if not offered:
            await asyncio.sleep(args.poll)


async def watch(run: Run, args) -> str:
    started = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        now = time.monotonic()
        if not run.in_flight and now - run.last_work > args.idle:
            run.done = True
            return f"no work offered to anyone for {args.idle:g} s"
        if now - started > args.seconds:
            run.done = True
            return f"time bound ({args.seconds:g} s)"


# --- The app: setup, readers, volunteers ----------------------------------------


def seed_scripts(readings: list[Reading]) -> dict[str, int]:
    """Languages and the scripts the readers were given (rows, as an admin
    imports them); returns each reading's script id."""
    from recordings.models import Language
    from recordings.scripts import script_build

    ids = {}
    for reading in readings:
        name, native = LANGUAGES.get(reading.lang, (reading.lang, reading.lang))
        language, _ = Language.objects.get_or_create(
            code=reading.lang, defaults={"name": name, "native_name": native}
        )
        script = script_build(
            language=language, text=reading.script, source="bench", licence="CC0-1.0"
        )
        script.save()
        ids[reading.name] = script.pk
    return ids


async def sign_up(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    registered = await client.post(
        "/api/auth/register/", json={"username": username, "password": PASSWORD, "consent": True}
    )
    if registered.status_code != 201:
        raise SystemExit(f"registering {username}: {registered.status_code} {registered.text}")
    pair = await client.post("/api/auth/token/", json={"username": username, "password": PASSWORD})
    pair.raise_for_status()
    return {"Authorization": f"Bearer {pair.json()['access']}"}


async def read_and_upload(client, readings, script_ids, drain: float) -> tuple[dict, Counter]:
    """Every reading uploaded by its language's reader and processed by the
    worker; returns each chunked recording's detail (with its chunks) keyed by
    reading name, and the recordings by final status."""
    readers = {lang: await sign_up(client, f"reader-{lang}") for lang in {r.lang for r in readings}}
    uploaded = {}
    for reading in readings:
        with open(reading.audio, "rb") as audio:
            response = await client.post(
                "/api/recordings/",
                data={"script": str(script_ids[reading.name])},
                files={"audio": (reading.audio.name, audio, CONTENT_TYPES[reading.audio.suffix])},
                headers=readers[reading.lang],
            )
        if response.status_code != 201:
            raise SystemExit(f"upload {reading.name}: {response.status_code} {response.text}")
        uploaded[reading.name] = (response.json()["id"], readers[reading.lang])
    details: dict[str, dict] = {}
    deadline = time.monotonic() + drain
    while len(details) < len(uploaded) and time.monotonic() < deadline:
        for name, (recording, headers) in uploaded.items():
            if name in details:
                continue
            body = (await client.get(f"/api/recordings/{recording}/", headers=headers)).json()
            if body["status"] in {"chunked", "rejected", "failed"}:
                details[name] = body
        await asyncio.sleep(1)
    statuses: dict[str, list[str]] = {}
    for name in uploaded:
        body = details.get(name, {"status": "still processing"})
        reason = body.get("rejection_reason")
        statuses.setdefault(body["status"], []).append(f"{name}: {reason}" if reason else name)
    return {n: b for n, b in details.items() if b["status"] == "chunked"}, statuses


def chunk_truths(readings: list[Reading], details: dict[str, dict]) -> dict[str, ChunkTruth]:
    truth = {}
    for reading in readings:
        if reading.name not in details:
            continue
        script_versions = set(reading.deviated.values())
        for chunk in details[reading.name]["chunks"]:
            truth[chunk["id"]] = ChunkTruth(
                id=chunk["id"],
                lang=reading.lang,
                duration=chunk["duration"],
                expected=chunk["expected_text"] or "",
                spoken=spoken_text(chunk["start"], chunk["end"], reading.spoken),
                deviated=chunk["expected_text"] in script_versions,
            )
    return truth


async def drive(base: str, server_log: str, readings, script_ids, args) -> tuple:
    """Readers upload, the worker cuts, the crowd answers until done: (truths,
    recordings by status, the run, why it stopped, its seconds, the crowd)."""
    # Idle connections are dropped before the server's keep-alive (gunicorn's
    # 2 s) closes them: a request sent on a connection the server is closing
    # at that instant gets no answer.
    limits = httpx.Limits(max_connections=args.volunteers + 8, keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        details, recordings = await read_and_upload(client, readings, script_ids, args.drain)
        truth = chunk_truths(readings, details)
        crowd = volunteers(args)
        for volunteer in crowd:
            volunteer.headers = await sign_up(client, volunteer.name)
        languages = sorted({chunk.lang for chunk in truth.values()})
        words = vocabularies([{"lang": r.lang, "script": r.script} for r in readings])
        run, pacer = Run(), Pacer(args.rate, args.seed)
        print(
            f"{len(truth)} chunks from {sum(map(len, recordings.values()))} recordings "
            f"{ {status: len(names) for status, names in recordings.items()} }; "
            f"{len(crowd)} volunteers start",
            flush=True,
        )
        started, log_from = time.monotonic(), os.path.getsize(server_log)
        tasks = []
        for k, volunteer in enumerate(crowd):
            # Each starts with another language, so every language has people.
            order = languages[k % len(languages) :] + languages[: k % len(languages)]
            tasks.append(volunteer_loop(client, volunteer, order, args, truth, words, pacer, run))
        stopped, *_ = await asyncio.gather(watch(run, args), *tasks)
        elapsed = time.monotonic() - started
    # The app's own request times while the crowd worked (its access log).
    run.server_side = server_times(server_log, log_from, group=endpoint)
    return truth, recordings, run, stopped, elapsed, crowd


# --- Figures ----------------------------------------------------------------------


def _ratio(numerator: float, denominator: float, digits: int = 4) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def decision_lags(ids: list[str], answered_at: dict[int, float]) -> dict:
    """For each stored answer, the first decision of its chunk that counts it:
    seconds from the answer's row (its ``created_at``, taken as the request
    began to store it, so its own wait for locks is in the lag), and from the
    moment the client had the response (0 when the decision was already
    made). The k-th answer of a chunk in id order is counted by the first
    decision of ``transcription_count`` ≥ k: ids follow the order of commits
    on SQLite, whose writers take turns; on PostgreSQL two answers to one
    chunk committed in the other order than their ids may swap decisions
    (milliseconds apart)."""
    from consensus.models import ConsensusDecision
    from transcriptions.models import Transcription

    decisions: dict[str, list] = {}
    for chunk_id, at, count in (
        ConsensusDecision.objects.filter(chunk_id__in=ids)
        .order_by("created_at", "id")
        .values_list("chunk_id", "created_at", "transcription_count")
    ):
        decisions.setdefault(str(chunk_id), []).append((at, count))
    stored, after_response, never = [], [], 0
    rank: Counter = Counter()
    for pk, chunk_id, created_at in (
        Transcription.objects.filter(chunk_id__in=ids)
        .order_by("id")
        .values_list("id", "chunk_id", "created_at")
    ):
        chunk_id = str(chunk_id)
        rank[chunk_id] += 1
        first = next(
            (
                at
                for at, count in decisions.get(chunk_id, [])
                if count >= rank[chunk_id] and at >= created_at
            ),
            None,
        )
        if first is None:
            never += 1
            continue
        stored.append((first - created_at).total_seconds())
        if pk in answered_at:
            after_response.append(max(0.0, first.timestamp() - answered_at[pk]))
    return {
        "answers": len(stored) + never,
        "never_decided": never,
        "from_stored_p50_s": round(pct(stored, 0.5), 3),
        "from_stored_p99_s": round(pct(stored, 0.99), 3),
        "from_stored_max_s": round(max(stored, default=float("nan")), 3),
        "after_response_p50_s": round(pct(after_response, 0.5), 3),
        "after_response_p99_s": round(pct(after_response, 0.99), 3),
        "decided_before_response": _ratio(
            sum(lag == 0 for lag in after_response), len(after_response)
        ),
    }


def costs(args) -> dict[str, tuple[float, float]]:
    from consensus.services import engine_config

    config = engine_config()
    return {
        "vote": tuple(args.vote_cost or config.vote_cost),
        "transcript": tuple(args.transcript_cost or config.transcript_cost),
        "review": tuple(args.review_cost or config.review_cost),
        "reviewer_price": args.reviewer_price or config.reviewer_price,
    }


def learned(crowd: list[Volunteer], languages: list[str]) -> dict:
    """Mean estimated accuracy, typing and listening, per kind of volunteer."""
    from consensus import engine
    from contributors.models import ReliabilityScore

    kind = {v.name: v.kind for v in crowd}
    found: dict[str, dict[str, list[float]]] = {}
    for row in ReliabilityScore.objects.filter(
        user__username__in=list(kind), language__in=languages
    ).select_related("user"):
        into = found.setdefault(kind[row.user.username], {"typing": [], "listening": []})
        into["typing"].append(engine.Reliability(row.alpha, row.beta).accuracy)
        if row.listen_alpha is not None:
            into["listening"].append(engine.Reliability(row.listen_alpha, row.listen_beta).accuracy)
    return {
        name: {what: round(sum(v) / len(v), 3) if v else None for what, v in values.items()}
        for name, values in sorted(found.items())
    }


def figures(truth: dict[str, ChunkTruth], run: Run, args) -> dict:
    from consensus.models import ConsensusDecision
    from recordings.models import Chunk
    from transcriptions.models import Transcription

    ids = list(truth)
    chunks = {str(c.id): c for c in Chunk.objects.filter(id__in=ids)}
    votes, typed = Counter(), Counter()
    for chunk_id, vote in Transcription.objects.filter(chunk_id__in=ids).values_list(
        "chunk_id", "vote"
    ):
        (typed if vote is None else votes)[str(chunk_id)] += 1
    audits = {
        str(c)
        for c in ConsensusDecision.objects.filter(chunk_id__in=ids, audit=True).values_list(
            "chunk_id", flat=True
        )
    }
    price = costs(args)

    def cost(kind: str, seconds: float) -> float:
        a, b = price[kind]
        return a * seconds + b

    by_status: dict[str, list[str]] = {}
    for chunk_id, chunk in chunks.items():
        by_status.setdefault(chunk.status, []).append(chunk_id)
    finished = [c for status in FINISHED for c in by_status.get(status, [])]
    review = by_status.get("needs_review", [])
    volunteer_seconds = sum(
        votes[c] * cost("vote", chunks[c].duration)
        + typed[c] * cost("transcript", chunks[c].duration)
        for c in chunks
    )
    reviewer_seconds = sum(cost("review", chunks[c].duration) for c in review)
    validated_minutes = sum(chunks[c].duration for c in by_status.get("validated", []) + review)
    validated_minutes /= 60
    finished_minutes = sum(chunks[c].duration for c in finished) / 60

    def tier_wer(members: list[str]) -> float | None:
        errors = words = 0
        for chunk_id in members:
            e, w = word_errors(chunks[chunk_id].consensus_text, truth[chunk_id].spoken)
            errors, words = errors + e, words + w
        return _ratio(errors, words)

    mislabelled = [c for c in ids if truth[c].expected and not truth[c].says_expected]
    unsettled = [c for c in ids if chunks[c].status != "validated" or c in mislabelled]
    answered_at = {s.transcription: s.answered_at for s in run.submissions if s.transcription}
    n = len(finished)
    return {
        "chunks": len(ids),
        "audio_minutes": round(sum(t.duration for t in truth.values()) / 60, 2),
        "chunks_with_sentence": sum(1 for t in truth.values() if t.expected),
        "chunks_whose_sentence_is_not_what_was_said": len(mislabelled),
        "of_which_by_deviation": sum(1 for c in mislabelled if truth[c].deviated),
        "chunks_by_status": {s: len(v) for s, v in sorted(by_status.items())},
        "finished": n,
        "left_open": len(by_status.get("open", [])),
        "judgements_per_finished_chunk": _ratio(
            sum(votes[c] + typed[c] for c in finished) + len(review), n, 3
        ),
        # The 2% audit draw is a reviewer's check of the validated tier, taken
        # whatever the crowd did: apart, as the review share is.
        "judgements_per_finished_chunk_without_audit": _ratio(
            sum(votes[c] + typed[c] for c in finished) + len(set(review) - audits), n, 3
        ),
        "verify_per_finished_chunk": _ratio(sum(votes[c] for c in finished), n, 3),
        "transcribe_per_finished_chunk": _ratio(sum(typed[c] for c in finished), n, 3),
        "review_per_finished_chunk": _ratio(len(review), n, 3),
        "judgements_on_open_chunks": sum(votes[c] + typed[c] for c in by_status.get("open", [])),
        # Everything people did, reviews to come included, over every chunk.
        "judgements_per_chunk": _ratio(
            sum(votes.values()) + sum(typed.values()) + len(review), len(ids), 3
        ),
        # Chunks that carry their sentence can be settled by votes; the others are typed.
        "judgements_per_finished_chunk_by_sentence": {
            group: {
                "chunks": len(members),
                "votes": _ratio(sum(votes[c] for c in members), len(members), 3),
                "typed": _ratio(sum(typed[c] for c in members), len(members), 3),
                "reviews": _ratio(sum(c in review for c in members), len(members), 3),
            }
            for group, members in (
                ("with", [c for c in finished if truth[c].expected]),
                ("without", [c for c in finished if not truth[c].expected]),
            )
        },
        "validated_share": _ratio(len(by_status.get("validated", [])), n),
        "accepted_share": _ratio(len(by_status.get("accepted", [])), n),
        "review_share": _ratio(len(review), n),
        "review_share_without_audit": _ratio(len([c for c in review if c not in audits]), n),
        "audit_samples_in_review": len([c for c in review if c in audits]),
        "wer": {
            "validated": tier_wer(by_status.get("validated", [])),
            "accepted": tier_wer(by_status.get("accepted", [])),
            "needs_review": tier_wer(review),
            "finished": tier_wer(finished),
        },
        "wrong_sentence_validated": sum(
            1
            for c in mislabelled
            if chunks[c].status == "validated"
            and tokenize(chunks[c].consensus_text) == tokenize(truth[c].expected)
        ),
        "costs": {
            **{k: list(v) if isinstance(v, tuple) else v for k, v in price.items()},
            "volunteer_seconds": round(volunteer_seconds),
            "reviewer_seconds": round(reviewer_seconds),
        },
        "human_seconds_per_validated_minute": _ratio(
            volunteer_seconds + reviewer_seconds, validated_minutes, 1
        ),
        "volunteer_equivalent_seconds_per_validated_minute": _ratio(
            volunteer_seconds + reviewer_seconds * price["reviewer_price"], validated_minutes, 1
        ),
        "human_seconds_per_finished_minute": _ratio(
            volunteer_seconds + reviewer_seconds, finished_minutes, 1
        ),
        "decision_lag": decision_lags(ids, answered_at),
        "unsettled_chunks": [chunk_story(chunks[c], truth[c]) for c in unsettled[: args.show]],
    }


def chunk_story(chunk, truth: ChunkTruth) -> dict:
    """What happened to one chunk: its texts, every answer, the last decision."""
    answers = [
        text if vote is None else ("yes" if vote else "no")
        for text, vote in chunk.transcriptions.order_by("created_at", "id").values_list(
            "text", "vote"
        )
    ]
    last = chunk.decisions.order_by("-created_at", "-id").first()
    return {
        "status": chunk.status,
        "expected": truth.expected,
        "spoken": truth.spoken,
        "text": chunk.consensus_text,
        "answers": answers,
        "last_decision": last and f"{last.outcome}: {last.reason}",
    }


def goals(report: dict, args) -> list[tuple[str, bool]]:
    perfect = not any(
        (
            args.vote_error,
            args.typo_rate,
            args.wrong_transcripts,
            args.deviation,
            args.sloppy,
            args.spammers,
        )
    )
    lag = report["decision_lag"]["from_stored_p99_s"]
    out = [(f"decision lag p99 {lag} s ≤ 2 s", lag <= 2.0)]
    jpc = report["judgements_per_finished_chunk_without_audit"] or float("inf")
    review = report["review_share_without_audit"] or 0.0
    if perfect:
        out += [
            (
                f"perfect volunteers: {jpc} judgements per finished chunk (audit samples "
                f"apart) ≤ 2.1",
                jpc <= 2.1,
            ),
            (f"perfect volunteers: {review:.1%} in review (audit samples apart) = 0", review == 0),
            (f"perfect volunteers: {report['left_open']} chunks open = 0", not report["left_open"]),
        ]
    else:
        wer = report["wer"]["validated"] or 0.0
        out += [
            (
                f"errors (set for 10% wrong + 5% deviation): {jpc} judgements per finished "
                f"chunk (audit samples apart) ≤ 2.6",
                jpc <= 2.6,
            ),
            (f"errors: {review:.1%} in review (audit samples apart) ≤ 5%", review <= 0.05),
            (f"errors: validated WER {wer:.2%} ≤ 1%", wer <= 0.01),
        ]
    return out


def endpoint(path: str) -> str:
    """A path with its chunk id taken out: one endpoint, one set of figures."""
    return regex.sub(r"/[0-9a-f-]{36}/", "/{id}/", path)


def print_report(report: dict, args) -> None:
    r = report
    costs_ = r["costs"]
    print(
        f"\n{r['shape']} shape: {r['recordings']} -> {r['chunks']} chunks, "
        f"{r['audio_minutes']} min ({r['chunks_with_sentence']} with a sentence, "
        f"{r['chunks_whose_sentence_is_not_what_was_said']} of them not what was said, "
        f"{r['of_which_by_deviation']} by deviation)\n"
        f"not chunked: {r['recordings_not_chunked']}\n"
        f"volunteers {r['volunteers']}; vote error {args.vote_error}, typo rate "
        f"{args.typo_rate}, transcripts with a wrong word {args.wrong_transcripts}, "
        f"deviation {args.deviation}; rate {args.rate or 'unpaced'}/s\n"
        f"stopped: {r['stopped']} after {r['seconds']} s; {r['submissions']} answers stored "
        f"at {r['submissions_per_second']}/s (middle 80%); status codes {r['status_codes']}; "
        f"no answer to {len(r['transport_errors'])} requests {r['transport_errors'][:5]}\n"
        f"chunks by status: {r['chunks_by_status']}\n"
        f"judgements per finished chunk: {r['judgements_per_finished_chunk']} (verify "
        f"{r['verify_per_finished_chunk']}, transcribe {r['transcribe_per_finished_chunk']}, "
        f"review {r['review_per_finished_chunk']}; audit samples apart "
        f"{r['judgements_per_finished_chunk_without_audit']}); "
        f"{r['judgements_on_open_chunks']} more on "
        f"open chunks; {r['judgements_per_chunk']} per chunk, open ones included\n"
        f"  per finished chunk with / without a sentence: "
        f"{r['judgements_per_finished_chunk_by_sentence']}\n"
        f"human seconds per validated minute: {r['human_seconds_per_validated_minute']} "
        f"(reviewer seconds at {costs_['reviewer_price']:g} volunteer seconds: "
        f"{r['volunteer_equivalent_seconds_per_validated_minute']}; per finished minute "
        f"{r['human_seconds_per_finished_minute']}); vote {costs_['vote']}, transcript "
        f"{costs_['transcript']}, review {costs_['review']} as (a, b): a × clip seconds + b\n"
        f"validated {r['validated_share']}, accepted {r['accepted_share']}, in review "
        f"{r['review_share']} ({r['audit_samples_in_review']} audit samples; without them "
        f"{r['review_share_without_audit']}); left open {r['left_open']}\n"
        f"WER: {r['wer']}; chunks validated with a sentence that was not said: "
        f"{r['wrong_sentence_validated']}\n"
        f"decision lag: {r['decision_lag']}\n"
        f"learned accuracy by kind of volunteer: {r['learned']}\n"
        f"latency (client, ms): {json.dumps(r['latency'])}\n"
        f"latency (server, ms): {json.dumps(r['server_side'])}"
    )
    for story in r["unsettled_chunks"]:
        print(json.dumps(story, ensure_ascii=False))
    for text, met in r["goals"]:
        print(f"goal {'met   ' if met else 'MISSED'} {text}")


# --- Shapes -----------------------------------------------------------------------


def app_env(args) -> dict[str, str]:
    """What both shapes get on top of their own: no throttle a crowd of
    simulated people on one address would hit, tokens that outlive the run."""
    unlimited = "100000000/hour"
    env = {
        "THROTTLE_UPLOAD": unlimited,
        "THROTTLE_SUBMIT": unlimited,
        "THROTTLE_REGISTER": unlimited,
        "THROTTLE_LOGIN": unlimited,
        "JWT_ACCESS_MINUTES": "600",
        "LOG_LEVEL": "WARNING",
    }
    if args.consensus_config:
        env["CONSENSUS_CONFIG"] = args.consensus_config
    return env


def run_embedded(args, readings) -> tuple:
    with tempfile.TemporaryDirectory(prefix="shrutik-human-effort-") as var:
        # The deployed logging (JSON at INFO) so the access lines give the
        # app's own request times, as start_server's do.
        env = embedded_env(var, **{**app_env(args), "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
        setup_django(env, None)
        script_ids = seed_scripts(readings)
        server, base = start_embedded(env, args.web_workers, args.worker_concurrency)
        try:
            driven = asyncio.run(drive(base, server.log_path, readings, script_ids, args))
        finally:
            stop(server)
        return driven, collect(driven, args)


def run_deployed(args, readings) -> tuple:
    web = worker = None
    with Services() as services:
        try:
            env = services.env(DB, **app_env(args))
            setup_django(env, DB)
            script_ids = seed_scripts(readings)
            worker = start_worker(env, concurrency=args.worker_concurrency)
            web, base = start_server(env, args.web_workers)
            driven = asyncio.run(drive(base, web.log_path, readings, script_ids, args))
            return driven, collect(driven, args)
        finally:
            for proc in (web, worker):
                stop(proc)
            release_database(DB, keep=args.keep)


def collect(driven, args) -> dict:
    truth, recordings, run, stopped, elapsed, crowd = driven
    report = figures(truth, run, args)
    stored = [s for s in run.submissions if s.status == 201]
    times = sorted(s.answered_at for s in stored)
    # The rate while the crowd is busy: the middle 80% of the answers, without
    # the start and the last chunks' tail.
    low, high = int(0.1 * len(times)), int(0.9 * len(times))
    busy = times[high] - times[low] if high > low else 0.0
    report.update(
        shape=args.shape,
        recordings={status: len(names) for status, names in recordings.items()},
        recordings_not_chunked={s: names for s, names in recordings.items() if s != "chunked"},
        volunteers=dict(Counter(v.kind for v in crowd)),
        stopped=stopped,
        seconds=round(elapsed, 1),
        submissions=len(stored),
        submissions_per_second=_ratio(high - low, busy, 1),
        status_codes={k: dict(sorted(v.items())) for k, v in run.status.items()},
        transport_errors=run.transport_errors,
        latency=summarise(run.latency, elapsed),
        server_side=run.server_side,
        learned=learned(crowd, sorted({t.lang for t in truth.values()})),
    )
    report["goals"] = goals(report, args)
    return report


def _cost(text: str) -> tuple[float, float]:
    a, b = (float(x) for x in text.split(","))
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["deployed", "embedded"], default="deployed")
    parser.add_argument("--sets", default="speech,hard", help="speech, hard or both")
    parser.add_argument("--limit", type=int, help="at most this many recordings per set")
    parser.add_argument("--volunteers", type=int, default=20)
    parser.add_argument("--vote-error", type=float, default=0.0)
    parser.add_argument("--typo-rate", type=float, default=0.0, help="typists' word error rate")
    parser.add_argument(
        "--wrong-transcripts", type=float, default=0.0, help="share typed with a wrong word"
    )
    parser.add_argument("--sloppy", type=float, default=0.0, help="share with 3x the errors")
    parser.add_argument("--spammers", type=float, default=0.0, help="share answering at random")
    parser.add_argument("--deviation", type=float, default=0.0, help="share of sentences")
    parser.add_argument("--rate", type=float, default=20.0, help="submissions/s; 0: unpaced")
    parser.add_argument("--count", type=int, default=1, help="tasks per request")
    parser.add_argument("--seconds", type=float, default=900, help="time bound of the crowd")
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--poll", type=float, default=1.0, help="pause after an empty answer")
    parser.add_argument("--drain", type=float, default=600, help="max wait for processing")
    parser.add_argument("--vote-cost", type=_cost, help="a,b: a × clip seconds + b")
    parser.add_argument("--transcript-cost", type=_cost)
    parser.add_argument("--review-cost", type=_cost)
    parser.add_argument("--reviewer-price", type=float, help="volunteer seconds per reviewer s")
    parser.add_argument("--consensus-config", help="CONSENSUS_CONFIG for the app (JSON)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--show", type=int, default=0, help="print this many chunks not validated")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    readings = load_readings(args.sets.split(","), args.limit, args.deviation, args.seed)
    run = run_embedded if args.shape == "embedded" else run_deployed
    _, report = run(args, readings)
    report["command"] = " ".join(sys.argv)
    print_report(report, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
