"""Recording processing end to end, against a bare ffmpeg decode of the same file.

Builds long read-speech recordings (webm/opus, from bench/make_long_recording.py),
then for each length measures in the same run:

- the reference: the bundled ffmpeg decoding the file to 16 kHz mono PCM and
  throwing it away (the least any pipeline must do);
- ``recordings.process`` exactly as the worker runs it (download from storage,
  decode, quality, segmentation, FLAC chunks written back to storage, rows in
  one transaction), in a fresh process, with its peak RSS.

``--shape deployed`` (the default) is the shape the audio worker runs in
production (bench/common.py): a scratch PostgreSQL database, the original
downloaded from and the chunks written to S3 (moto's server, in its own
process on the same cores), Redis as the broker. ``--shape embedded`` is
``make run``'s: SQLite and files under a scratch directory. The audio kernels
are whatever the worker would load (``SHRUTIK_AUDIO_KERNELS``; compiled ahead
of time by ``make`` if up to date); the table says which, and whether numba
was loaded.

Prints the ratio pipeline / bare decode (goal ≤ 1.3 at 60 minutes), the
real-time factor, the peak RSS over the timed process's life (goal ≤ 250 MB at
60 minutes) and the peak anonymous memory during the timed run (RSS less the
libraries' file pages, which count in RSS as far as the page cache holds
them; docs/benchmarks.md), and the peak RSS and anonymous memory of the child
process that decodes a long file's second half ("child MB", "anon"; 0 if
there was none). Also the CPU
time (user + system, every thread, the child's included) of each, and their
ratio: on a machine shared with other work the wall-clock ratio moves by
tenths between runs, the CPU times much less.

    .venv/bin/python bench/pipeline.py [--minutes 10 60] [--shape deployed|embedded]
    .venv/bin/python bench/pipeline.py --minutes 60 --worker

``--worker``: the reading cut by a real Celery audio worker as Kubernetes
runs it (``--queues audio --concurrency 1``) in the deployed shape, after a
short warm-up reading; prints the time from the hand-over to the broker until
the recording is cut, and the peak RSS and anonymous memory of each of the
worker's processes: its main process, its pool process (which cuts) and the
child decoding the second half.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# bench/common (httpx, psycopg, rich) is imported where it is used, never in
# the timed process: a worker does not load it, and it would count in the
# process's memory.
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DB = "shrutik_bench_pipeline"
WARM_UP = ROOT / "recordings" / "tests" / "fixtures" / "bn_read_fluent.webm"


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bare_decode_seconds(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, all its threads) of the bare decode."""
    import imageio_ffmpeg

    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
         "-ac", "1", "-ar", "16000", "-f", "s16le", "-y", "/dev/null"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def status_mb(pid: str = "self") -> dict[str, float]:
    """The memory lines of a process's /proc status (Linux), in MB."""
    with open(f"/proc/{pid}/status") as status:
        return {
            name: int(rest.split()[0]) / 1024
            for name, _, rest in (line.partition(":") for line in status)
            if rest.strip().endswith("kB")
        }


def anonymous_mb() -> float:
    """The process's anonymous resident memory (Linux): its own heap and stacks,
    without the file pages of the libraries it maps. Those count in RSS as
    far as they are in the page cache, which varies from machine to machine."""
    return status_mb().get("RssAnon", float("nan"))


def children_mb() -> tuple[float, float]:
    """The highest VmHWM and RssAnon among this process's children now
    running (Linux). VmHWM is their own high-water mark since they started
    their program (their ru_maxrss cannot tell: the kernel counts the
    parent's RSS they shared before exec); RssAnon is their private memory,
    without the library pages they share with this process."""
    hwm = anon = 0.0
    for pid in child_pids("self"):
        try:
            memory = status_mb(pid)
        except OSError:
            continue  # it has just ended
        hwm = max(hwm, memory.get("VmHWM", 0.0))
        anon = max(anon, memory.get("RssAnon", 0.0))
    return hwm, anon


def child_pids(pid: str) -> list[str]:
    """The processes ``pid`` (a number, or "self") started, from each of its
    threads (Linux)."""
    pids = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids += listing.read_text().split()
        except OSError:
            continue  # the thread has just ended
    return pids


class Sampler(threading.Thread):
    """Calls ``sample`` every 10 ms while the block runs, and once at its end."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()

    def sample(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self.done.wait(0.01):
            self.sample()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()
        self.sample()


class PeakSampler(Sampler):
    """The highest ``anonymous_mb`` seen while the block runs, and the highest
    of ``children_mb``."""

    def __init__(self) -> None:
        super().__init__()
        self.peak = anonymous_mb()
        self.children_peak = self.children_anonymous = 0.0

    def sample(self) -> None:
        self.peak = max(self.peak, anonymous_mb())
        hwm, anon = children_mb()
        self.children_peak = max(self.children_peak, hwm)
        self.children_anonymous = max(self.children_anonymous, anon)


def stored_recording(user, audio: Path, meta_path: Path):
    """A Recording of ``audio`` (its script from ``meta_path``), stored as an upload stores it."""
    from django.core.files.storage import default_storage

    from recordings.models import Language, Recording
    from recordings.scripts import script_build

    meta = json.loads(meta_path.read_text())
    language, _ = Language.objects.get_or_create(
        code=meta["lang"], defaults={"name": meta["lang"], "native_name": meta["lang"]}
    )
    script = script_build(language=language, text=meta["script"])
    script.save()
    recording = Recording.objects.create(contributor=user, script=script, sha256="0" * 64)
    with open(audio, "rb") as fh:
        key = f"recordings/{recording.id}/original.webm"
        recording.audio.name = default_storage.save(key, fh)
    recording.save()
    return recording


def child(audio: Path, meta_path: Path) -> None:
    """Runs in a fresh process: set up rows, then time recording_process alone."""
    import django

    django.setup()
    from django.utils import timezone

    from contributors.models import User
    from recordings import services

    user = User.objects.create(username="bench", consent_version="x", consent_at=timezone.now())

    # A worker processes many recordings: its imports and compiled kernels are
    # loaded once, so time a warm process, as in production.
    warm_up = stored_recording(user, WARM_UP, WARM_UP.with_suffix(".json"))
    services.recording_process(recording_id=warm_up.id)
    recording = stored_recording(user, audio, meta_path)
    script = recording.script
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with PeakSampler() as anonymous:
        started = time.perf_counter()
        cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
        services.recording_process(recording_id=recording.id)
        elapsed = time.perf_counter() - started
        # The sampler's own wakeups count here too (a few ms a second), and
        # so does the child decoding a long file's second half.
        cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    recording.refresh_from_db()
    from recordings.audio import kernels

    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "status": recording.status,
                "reason": recording.rejection_reason,
                "chunks": recording.chunks.count(),
                "aligned_chunks": recording.chunks.exclude(expected_text="").count(),
                "sentences": len(script.sentences),
                "duration": recording.duration,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                # Its child: the second-half decoder.
                "child_peak_rss_mb": anonymous.children_peak,
                "child_peak_anonymous_mb": anonymous.children_anonymous,
                "rss_before_mb": baseline / 1024,
                "peak_anonymous_mb": anonymous.peak,
                "kernels": kernels.current().kind,
                "numba_loaded": "numba" in sys.modules,
            }
        )
    )


def run_pipeline(audio: Path, meta: Path, shape: str) -> dict:
    from common import Services, drop_database, embedded_env, recreate_database

    if shape == "embedded":
        with tempfile.TemporaryDirectory(prefix="shrutik-bench-") as var:
            return timed_child(embedded_env(var), audio, meta)
    with Services() as services:
        env = services.env(DB)
        recreate_database(DB)
        try:
            return timed_child(env, audio, meta)
        finally:
            drop_database(DB)


def timed_child(env, audio: Path, meta: Path) -> dict:
    from common import manage

    # Migrations run in their own process: a worker never loads them.
    manage(env, "migrate", "-v0")
    return this_script(env, "--child", audio, meta)


def this_script(env, mode: str, audio: Path, meta: Path) -> dict:
    """This script run in ``mode`` in a process of its own; its last line of output, parsed."""
    result = subprocess.run(
        [sys.executable, __file__, mode, str(audio), str(meta)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def enqueuer(audio: Path, meta_path: Path) -> None:
    """Runs beside a real audio worker (``--worker``): stores the warm-up
    reading and the long one, hands each to the worker as an upload does, and
    times the long one from the hand-over until it is cut."""
    import django

    django.setup()
    from django.utils import timezone

    from contributors.models import User
    from recordings import services
    from recordings.models import Recording, RecordingStatus

    user = User.objects.create(username="bench", consent_version="x", consent_at=timezone.now())

    def cut(recording) -> float:
        started = time.perf_counter()
        services.recording_enqueue(recording_id=recording.id)
        waiting = (RecordingStatus.UPLOADED, RecordingStatus.PROCESSING)
        while Recording.objects.filter(pk=recording.pk, status__in=waiting).exists():
            time.sleep(0.05)
        return time.perf_counter() - started

    cut(stored_recording(user, WARM_UP, WARM_UP.with_suffix(".json")))
    recording = stored_recording(user, audio, meta_path)
    seconds = cut(recording)
    recording.refresh_from_db()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "status": recording.status,
                "chunks": recording.chunks.count(),
                "aligned_chunks": recording.chunks.exclude(expected_text="").count(),
                "sentences": len(recording.script.sentences),
            }
        )
    )


def descendants(pid: int, depth: int = 0):
    """(pid, depth) of ``pid`` and every process under it (Linux)."""
    yield pid, depth
    for child_pid in child_pids(str(pid)):
        yield from descendants(int(child_pid), depth + 1)


class TreeSampler(Sampler):
    """Peak RSS (VmHWM) and peak anonymous memory of a Celery worker's
    processes by depth: 0 the main process, 1 its pool process, 2 the child
    decoding a long file's second half. VmHWM is each process's own
    high-water mark, so none is missed between samples."""

    def __init__(self, root: int) -> None:
        super().__init__()
        self.root = root
        self.peaks: dict[int, dict[str, float]] = {}

    def sample(self) -> None:
        for pid, depth in descendants(self.root):
            try:
                memory = status_mb(str(pid))
            except OSError:
                continue  # it has just ended
            peak = self.peaks.setdefault(depth, {"rss": 0.0, "anon": 0.0})
            peak["rss"] = max(peak["rss"], memory.get("VmHWM", 0.0))
            peak["anon"] = max(peak["anon"], memory.get("RssAnon", 0.0))


def run_worker(audio: Path, meta: Path) -> dict:
    """The long reading cut by the audio worker as Kubernetes runs it
    (deploy/k8s/base/worker-audio.yaml: the ``audio`` queue, one pool
    process), in the deployed shape."""
    from common import Services, drop_database, manage, recreate_database, start_worker, stop

    with Services() as services:
        env = services.env(DB)
        recreate_database(DB)
        worker = None
        try:
            manage(env, "migrate", "-v0")
            worker = start_worker(env, concurrency=1, queues="audio", name="bench-audio")
            with TreeSampler(worker.pid) as sampler:
                result = this_script(env, "--enqueue", audio, meta)
            return {**result, "peaks": sampler.peaks}
        finally:
            stop(worker)
            drop_database(DB)


WORKER_PARTS = ("main", "pool", "decoder")  # by depth in the worker's process tree


def worker_row(minutes: float, bare: float, result: dict) -> dict:
    row = {
        "shape": "worker",
        "minutes": minutes,
        "bare_decode_s": round(bare, 2),
        # From the hand-over to the broker until the recording is cut.
        "worker_s": round(result["seconds"], 2),
        "ratio": round(result["seconds"] / bare, 2),
        **{k: result[k] for k in ("status", "chunks", "aligned_chunks", "sentences")},
    }
    for depth, part in enumerate(WORKER_PARTS):
        peak = result["peaks"].get(depth, {"rss": 0.0, "anon": 0.0})
        row[f"{part}_rss_mb"] = round(peak["rss"], 1)
        row[f"{part}_anon_mb"] = round(peak["anon"], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--shape", choices=["deployed", "embedded"], default="deployed")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="have a real Celery audio worker cut the reading (deployed shape)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--enqueue", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    if args.enqueue:
        enqueuer(Path(args.enqueue[0]), Path(args.enqueue[1]))
        return
    from bench.make_long_recording import build

    rows = []
    for minutes in args.minutes:
        base = OUT / f"long{minutes:g}min"
        audio, meta = base.with_suffix(".webm"), base.with_suffix(".json")
        if not (audio.exists() and meta.exists()):
            build(minutes, base, seed=11)
        bare, bare_cpu = min(bare_decode_seconds(audio) for _ in range(2))
        if args.worker:
            rows.append(worker_row(minutes, bare, run_worker(audio, meta)))
            continue
        result = run_pipeline(audio, meta, args.shape)
        rows.append(
            {
                "shape": args.shape,
                "minutes": minutes,
                "file_mb": round(audio.stat().st_size / 1e6, 2),
                "bare_decode_s": round(bare, 2),
                "pipeline_s": round(result["seconds"], 2),
                "ratio": round(result["seconds"] / bare, 2),
                # CPU time against CPU time: what a loaded machine moves least.
                "bare_decode_cpu_s": round(bare_cpu, 2),
                "pipeline_cpu_s": round(result.get("cpu_seconds", float("nan")), 2),
                "cpu_ratio": round(result.get("cpu_seconds", float("nan")) / bare_cpu, 2),
                "real_time_factor": round(result["seconds"] / (minutes * 60), 4),
                "peak_rss_mb": round(result["peak_rss_mb"], 1),
                "peak_anonymous_mb": round(result["peak_anonymous_mb"], 1),
                "child_peak_rss_mb": round(result["child_peak_rss_mb"], 1),
                "child_peak_anonymous_mb": round(result["child_peak_anonymous_mb"], 1),
                "status": result["status"],
                "chunks": result["chunks"],
                "aligned_chunks": result["aligned_chunks"],
                "sentences": result["sentences"],
                "kernels": result["kernels"],
                "numba_loaded": result["numba_loaded"],
            }
        )
    if args.worker:
        print(f"{'min':>5} {'bare s':>7} {'worker s':>8} {'ratio':>6}   peak RSS (anon) MB of the")
        print(f"{'':>31}main process  pool process  decode child  chunks")
        for r in rows:
            print(
                f"{r['minutes']:>5g} {r['bare_decode_s']:>7} {r['worker_s']:>8} {r['ratio']:>6}"
                + "".join(f"  {r[f'{p}_rss_mb']:>5} ({r[f'{p}_anon_mb']:>5})" for p in WORKER_PARTS)
                + f"  {r['chunks']} ({r['aligned_chunks']}/{r['sentences']} aligned, {r['status']})"
            )
        print(json.dumps(rows))
        return
    print(
        f"{'min':>5} {'bare s':>7} {'pipeline s':>10} {'ratio':>6} {'CPU ratio':>9} {'RTF':>7}"
        f" {'peak MB':>8} {'anon MB':>8} {'child MB':>8} {'anon':>5} chunks"
    )
    for r in rows:
        print(
            f"{r['minutes']:>5g} {r['bare_decode_s']:>7} {r['pipeline_s']:>10} {r['ratio']:>6} "
            f"{r['cpu_ratio']:>9} "
            f"{r['real_time_factor']:>7} {r['peak_rss_mb']:>8} {r['peak_anonymous_mb']:>8}"
            f" {r['child_peak_rss_mb']:>8} {r['child_peak_anonymous_mb']:>5}"
            f" {r['chunks']} "
            f"({r['aligned_chunks']}/{r['sentences']} aligned, {r['status']};"
            f" kernels: {r['kernels']}, numba {'loaded' if r['numba_loaded'] else 'not loaded'})"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
