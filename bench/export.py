"""Dataset export throughput and memory against a raw parallel copy.

Measures the deployed shape (bench/common.py): a scratch PostgreSQL database
with ``--chunks`` validated chunks (short synthetic FLAC clips, uploaded to
moto's S3 server on 127.0.0.1), a private Redis as the Celery broker. In the
same run it measures:

1. the baseline: a raw parallel copy of the same chunk objects (GET + PUT of
   every clip, ``EXPORT_IO_THREADS`` threads) to the same endpoint;
2. the exporter: ``exports.build`` (huggingface + nemo + kaldi + commonvoice)
   in a child process, reporting wall time and the child's peak RSS.

It prints the time ratio (goal ≤ 2.0) and the peak RSS. ``--rss-chunks`` adds
exports over more chunk rows (reusing the uploaded objects, so only the rows
grow) to show that memory stays flat as the export grows.

``--processing`` then builds a processed export (loudness, trimming, speed and
noise augmentation; ``PROCESSING``) through real Celery workers, once with one
worker process and once with two, and prints the time per hour of input audio
for each, their ratio and the workers' peak RSS.

    .venv/bin/python bench/export.py [--chunks 10000] [--speakers 300]
        [--rss-chunks 100000] [--processing] [--keep]

Loopback only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import (
    BUCKET,
    ROOT,
    Services,
    release_database,
    setup_django,
    start_worker,
    stop,
)

sys.path.insert(0, str(ROOT))
DB = "shrutik_bench_export"
FORMATS = ["huggingface", "nemo", "kaldi", "commonvoice"]
PROCESSING = {
    "loudness": {"target_lufs": -23.0, "true_peak_dbtp": -1.0},
    "trim": {"top_db": 40, "margin_ms": 100},
    "channels": 1,
    "min_duration": None,
    "max_duration": None,
    "augment": {"speed": [0.9, 1.1], "noise": {"source": "pink", "snrs": [10.0, 20.0]}},
    "seed": 0,
}


def bench_env(services: Services) -> dict[str, str]:
    return services.env(DB, CELERY_TASK_ALWAYS_EAGER="false")


def s3(env, **config):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=env["AWS_S3_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], config=Config(**config),
    )  # fmt: skip


def synthetic_clips(count: int, seed: int = 1) -> list[tuple[bytes, float]]:
    """Speech-like FLAC clips (tone + noise, 1–4 s): compress like real speech."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(count):
        seconds = float(rng.uniform(1.0, 4.0))
        t = np.arange(int(seconds * 16000)) / 16000
        y = 0.2 * np.sin(2 * np.pi * rng.uniform(120, 300) * t) * (0.6 + 0.4 * np.sin(8 * t))
        y += rng.normal(0, 0.02, len(t))
        out = io.BytesIO()
        sf.write(out, y.astype(np.float32), 16000, format="FLAC", subtype="PCM_16")
        clips.append((out.getvalue(), round(len(t) / 16000, 4)))
    return clips


def prepare(args, env) -> list[str]:
    """Fresh scratch database; returns the clip keys uploaded to the bucket."""
    setup_django(env, DB)
    from django.db import transaction
    from django.utils import timezone

    from contributors.models import User
    from recordings.models import Chunk, Language, Recording, Script

    client = s3(env, max_pool_connections=32)
    clips = synthetic_clips(min(args.chunks, 400))
    rng = random.Random(7)
    now = timezone.now()
    with transaction.atomic():
        language = Language.objects.create(code="bn", name="Bangla", native_name="বাংলা")
        users = User.objects.bulk_create(
            User(
                username=f"speaker{i}", email=f"speaker{i}@example.org",
                consent_version="2026-11", consent_at=now,
                gender=rng.choice(["female", "male", "other", ""]),
                age_range=rng.choice(["twenties", "thirties", "fourties"]),
            )
            for i in range(args.speakers)
        )  # fmt: skip
        script = Script.objects.create(
            language=language,
            text="x",
            sentences=["x"],
            estimated_seconds=3,
            length_bucket="single",
        )
        recordings = Recording.objects.bulk_create(
            Recording(contributor=u, script=script, sha256="0" * 64, status="chunked")
            for u in users
        )
    keys = []

    def rows(total: int):
        for i in range(total):
            recording = recordings[i % len(recordings)]
            data, seconds = clips[i % len(clips)]
            key = f"chunks/{recording.id}/{i // len(recordings)}.flac"
            yield Chunk(
                recording=recording, language=language, contributor_id=recording.contributor_id,
                index=i // len(recordings), start=0.0, end=seconds, duration=seconds,
                audio=key,
                consensus_text=f"বাক্য নম্বর {rng.randrange(5000)}।", status="validated",
                confidence=0.97, transcriptions_received=2,
            ), key, data  # fmt: skip

    batch, uploads = [], []
    with ThreadPoolExecutor(16) as pool:
        for chunk, key, data in rows(args.chunks):
            batch.append(chunk)
            keys.append(key)
            uploads.append(pool.submit(client.put_object, Bucket=BUCKET, Key=key, Body=data))
            if len(batch) == 2000:
                Chunk.objects.bulk_create(batch)
                batch = []
        Chunk.objects.bulk_create(batch)
        for future in uploads:
            future.result()
    return keys


def add_rows(args, total: int) -> None:
    """Grow the chunk table to ``total`` rows reusing the uploaded objects."""
    from recordings.models import Chunk

    have = Chunk.objects.count()
    if have >= total:
        return
    template = list(Chunk.objects.order_by("pk").values()[: args.chunks])
    batch = []
    for i in range(have, total):
        row = dict(template[i % len(template)])
        row.pop("id")
        row["index"] = 100000 + i
        batch.append(Chunk(**row))
        if len(batch) == 5000:
            Chunk.objects.bulk_create(batch)
            batch = []
    Chunk.objects.bulk_create(batch)


def baseline(keys: list[str], env) -> tuple[float, int]:
    """Raw parallel copy of the same objects (GET + PUT), same endpoint, same threads."""
    client = s3(env)

    def copy(key: str) -> int:
        data = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        client.put_object(Bucket=BUCKET, Key=f"baseline/{key}", Body=data)
        return len(data)

    threads = int(env.get("EXPORT_IO_THREADS", "8"))
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        copied = sum(pool.map(copy, keys))
    return time.perf_counter() - start, copied


EXPORT_CHILD = """
import json, resource, sys, time
import django
django.setup()
from contributors.models import User
from contributors.services import user_set_roles
from exports import services
from exports.models import Export
user = User.objects.create(username=f"researcher{time.time_ns()}")
user_set_roles(user=user, roles={"researcher"})
export = services.export_create(requester=user, formats=json.loads(sys.argv[1]))
start = time.perf_counter()
services.export_build(export_id=export.id)
seconds = time.perf_counter() - start
export.refresh_from_db()
print(json.dumps({
    "seconds": seconds, "status": export.status, "error": export.error,
    "clips": export.stats.get("totals", {}).get("clips"), "bytes": export.total_bytes,
    "objects": export.stats.get("objects"),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run_export(env, timeout: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", EXPORT_CHILD, json.dumps(FORMATS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"export child failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["status"] != "done":
        raise SystemExit(f"export failed: {result['error']}")
    return result


def run_processing(env, concurrency: int, timeout: float) -> dict:
    """A processed export built by a Celery worker with ``concurrency`` processes."""
    import psutil
    from django.db.models import Sum

    from contributors.models import User
    from contributors.services import user_set_roles
    from exports import services
    from exports.models import Export
    from recordings.models import Chunk

    worker = start_worker(
        env, concurrency=concurrency, queues="exports", name=f"bench{concurrency}"
    )
    try:
        user = User.objects.create(username=f"researcher{time.time_ns()}")
        user_set_roles(user=user, roles={"researcher"})
        start = time.perf_counter()
        export = services.export_create(requester=user, formats=FORMATS, processing=PROCESSING)
        peak = 0
        while time.perf_counter() - start < timeout:
            export.refresh_from_db()
            if export.status in {"done", "failed"}:
                break
            for proc in [psutil.Process(worker.pid), *psutil.Process(worker.pid).children()]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    peak = max(peak, proc.memory_info().rss)
            time.sleep(0.5)
        seconds = time.perf_counter() - start
        if export.status != "done":
            raise SystemExit(f"processed export {export.status}: {export.error}")
        audio = Chunk.objects.aggregate(s=Sum("duration"))["s"] or 0.0
        return {
            "seconds": seconds,
            "input_hours": audio / 3600,
            "clips": export.stats["totals"]["clips"],
            "peak_rss_mb": peak / 1024**2,
            "export": Export.objects.filter(pk=export.pk).values_list("total_bytes", flat=True)[0],
        }
    finally:
        stop(worker, timeout=60)


def measure(args, env) -> None:
    t0 = time.perf_counter()
    keys = prepare(args, env)
    print(f"prepared {len(keys)} chunks in {time.perf_counter() - t0:.0f} s", flush=True)
    base_seconds, base_bytes = baseline(keys, env)
    print(
        f"baseline raw parallel copy: {base_seconds:.1f} s, {base_bytes / 1e6:.0f} MB",
        flush=True,
    )
    result = run_export(env, args.timeout)
    ratio = result["seconds"] / base_seconds
    print(
        f"export {'+'.join(FORMATS)}: {result['seconds']:.1f} s, {result['clips']} clips, "
        f"{result['objects']} objects, {result['bytes'] / 1e6:.0f} MB written, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    print(f"ratio export / raw copy: {ratio:.2f} (goal <= 2.0)")
    for total in args.rss_chunks:
        add_rows(args, total)
        grown = run_export(env, args.timeout)
        print(
            f"export of {grown['clips']} clips: {grown['seconds']:.1f} s, "
            f"peak RSS {grown['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    if args.processing:
        runs = {}
        for concurrency in (1, 2):
            runs[concurrency] = run = run_processing(env, concurrency, args.timeout)
            print(
                f"processed export, {concurrency} worker process(es): {run['seconds']:.1f} s "
                f"for {run['input_hours']:.3f} h of audio = "
                f"{run['seconds'] / run['input_hours']:.0f} s per hour of audio, "
                f"{run['clips']} clips written (with augmented copies), "
                f"worker peak RSS {run['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        print(f"ratio 2 workers / 1 worker: {runs[2]['seconds'] / runs[1]['seconds']:.2f}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bench process peak RSS {own:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--speakers", type=int, default=300)
    parser.add_argument("--rss-chunks", type=int, nargs="*", default=[])
    parser.add_argument("--timeout", type=float, default=3600, help="per export, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--processing", action="store_true", help="also time a processed export, 1 vs 2 workers"
    )
    args = parser.parse_args()

    with Services() as services:
        env = bench_env(services)
        try:
            measure(args, env)
        finally:
            release_database(DB, keep=args.keep)


if __name__ == "__main__":
    main()
