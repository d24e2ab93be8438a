"""Live recording under load: N readers streaming at once, at real-time pace.

Serves the app in the deployed shape on loopback (bench/common.py): the web
server as docker-compose.yml runs it (gunicorn with ``--web-workers`` uvicorn
workers), a scratch PostgreSQL database, Redis as the channel layer
(channels_redis) and S3 staging of every frame on moto's server. Then it
for N = 1, 2, 4, ... runs N WebSocket clients that each stream the shared Bangla
reading in 1-second MediaRecorder-sized frames, one per second. For every frame
it measures the feedback latency: from sending the frame to receiving the first
feedback computed from its audio. After each round it checks in the database
that every frame of every stream was staged (none lost), and reads the server's
CPU time (the web server's processes, and any child processes they start).

Prints, per N: feedback p50/p99 latency (also without each stream's first
frame, which waits for its decoder to start), the p99 of the acknowledgements
(from sending a frame to its ack: staged durably), frames lost, server CPU
per stream (% of one core); then the largest N with p99 < 300 ms (all frames)
and no lost frame.

    .venv/bin/python bench/live.py [--max-streams 64] [--web-workers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time

from common import (
    ROOT,
    Services,
    consented_users,
    pct,
    release_database,
    setup_django,
    start_server,
    stop,
)

DB = "shrutik_bench_live"

READING = [
    ROOT.parent / "shared" / "data" / "speech" / "bn_read_fluent.webm",
    ROOT / "recordings" / "tests" / "fixtures" / "bn_read_fluent.webm",
]
P99_LIMIT = 0.300


def setup(users: int, script_text: str) -> tuple[int, list[str]]:
    """A script and one reader per stream; returns the script id and their tokens."""
    from rest_framework_simplejwt.tokens import AccessToken

    from recordings.models import Language
    from recordings.scripts import script_build

    language = Language.objects.create(code="bn", name="Bangla", native_name="বাংলা")
    script = script_build(language=language, text=script_text)
    script.save()
    readers = consented_users(f"reader{i}" for i in range(users))
    return script.pk, [str(AccessToken.for_user(u)) for u in readers]


def staged_frames() -> dict[str, tuple[int, int]]:
    from live.models import LiveSession

    return {
        str(pk): (next_seq, staged_bytes)
        for pk, next_seq, staged_bytes in LiveSession.objects.values_list(
            "pk", "next_seq", "staged_bytes"
        )
    }


def cpu_seconds(pid: int) -> float:
    import psutil

    def own_and_reaped(process) -> float:
        # A process's children that exited (and were waited for) are counted
        # in its children's times: a worker's, for decoder processes it started.
        times = process.cpu_times()
        return times.user + times.system + times.children_user + times.children_system

    proc = psutil.Process(pid)
    total = own_and_reaped(proc)
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += own_and_reaped(child)
    return total


async def stream(url: str, origin: str, token: str, frames: list[bytes], pace: float):
    from websockets.asyncio.client import connect

    sent: dict[int, float] = {}
    latencies: list[float] = []
    ack_latencies: list[float] = []
    acked = -1
    seen = -1
    async with connect(f"{url}&token={token}", origin=origin, open_timeout=60) as ws:

        async def receive():
            nonlocal acked, seen
            async for raw in ws:
                message = json.loads(raw)
                now = time.perf_counter()
                if message["type"] == "ack":
                    # Each frame's acknowledgement: it is durable in staging.
                    for s in range(acked + 1, message["seq"] + 1):
                        if s in sent:
                            ack_latencies.append(now - sent[s])
                    acked = max(acked, message["seq"])
                elif message["type"] == "feedback":
                    seq = message["seq"]
                    # The first feedback carrying a frame's audio, for each frame.
                    for s in range(seen + 1, seq + 1):
                        if s in sent:
                            latencies.append((s, now - sent[s]))
                    seen = max(seen, seq)
                elif message["type"] == "started":
                    started.set()
                elif message["type"] == "error":
                    raise RuntimeError(message)

        started = asyncio.Event()
        reader = asyncio.create_task(receive())
        await ws.send(json.dumps({"type": "start"}))
        await asyncio.wait_for(started.wait(), 60)
        begin = time.perf_counter()
        for seq, payload in enumerate(frames):
            # Real-time pace: frame n leaves n seconds after the first.
            await asyncio.sleep(max(0.0, begin + seq * pace - time.perf_counter()))
            sent[seq] = time.perf_counter()
            await ws.send(seq.to_bytes(4, "big") + payload)
        deadline = time.perf_counter() + 10
        while (
            acked < len(frames) - 1 or seen < len(frames) - 1
        ) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        reader.cancel()
    return latencies, acked + 1, ack_latencies


async def round_of(n: int, url: str, origin: str, tokens: list[str], frames, pace):
    # Readers do not start in lockstep: spread the starts over one frame.
    async def one(i):
        await asyncio.sleep(i * pace / max(1, n))
        return await stream(url, origin, tokens[i], frames, pace)

    return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-streams", type=int, default=64)
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between frames")
    parser.add_argument("--web-workers", type=int, default=3, help="as in docker-compose.yml")
    parser.add_argument(
        "--streams",
        type=int,
        nargs="+",
        help="run these N only, each even after one misses (default: 1, 2, 4, ... until a miss)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    source = next(p for p in READING if p.exists())
    meta = json.loads(source.with_suffix(".json").read_text())
    data = source.read_bytes()
    size = max(1, round(len(data) / meta["duration"]))  # about one second per frame
    frames = [data[i : i + size] for i in range(0, len(data), size)]

    with Services() as services:
        env = services.env(DB, LIVE_MAX_SESSIONS_PER_USER="1000")
        setup_django(env, DB)

        script_id, tokens = setup(max(args.streams or [args.max_streams]), meta["script"])
        server, origin = start_server(env, args.web_workers)
        try:
            rounds(args, server, origin, script_id, tokens, frames, size, len(data))
        finally:
            stop(server, timeout=20)
            release_database(DB, keep=args.keep)


def rounds(args, server, origin: str, script_id: int, tokens, frames, size: int, total: int):
    """N = 1, 2, 4, ... streams until a round misses the latency goal or loses a
    frame, or each N of ``--streams``."""
    url = origin.replace("http", "ws", 1) + f"/ws/record/?script={script_id}"
    with os.popen("uptime") as up:
        print(f"machine: {os.cpu_count()} cores, {up.read().strip()}")
    print(f"{len(frames)} frames of ~{size} B per stream, one every {args.pace:.1f} s\n")
    print(
        f"{'N':>4} {'p50 ms':>8} {'p99 ms':>8} {'p99 ms (n>0)':>14} {'ack p99 ms':>11}"
        f" {'lost':>6} {'CPU/stream':>11}"
    )
    best = 0
    done_sessions: set[str] = set()
    counts = args.streams or [2**k for k in range(args.max_streams.bit_length())]
    for n in counts:
        cpu_before, wall_before = cpu_seconds(server.pid), time.perf_counter()
        results = asyncio.run(round_of(n, url, origin, tokens, frames, args.pace))
        cpu = cpu_seconds(server.pid) - cpu_before
        wall = time.perf_counter() - wall_before
        errors = [r for r in results if isinstance(r, BaseException)]
        pairs = [x for r in results if not isinstance(r, BaseException) for x in r[0]]
        acks = [x for r in results if not isinstance(r, BaseException) for x in r[2]]
        latencies = [lat for _, lat in pairs]
        # Frame 0 also waits for the connection's decoder to start.
        steady = [lat for seq, lat in pairs if seq > 0]
        staged = staged_frames()
        new = {k: v for k, v in staged.items() if k not in done_sessions}
        done_sessions |= set(new)
        lost = n * len(frames) - sum(v[0] for v in new.values())
        lost += sum(1 for v in new.values() if v[1] != total and v[0] == len(frames))
        p50, p99 = pct(latencies, 0.50) * 1000, pct(latencies, 0.99) * 1000
        p99_steady = pct(steady, 0.99) * 1000
        ack_p99 = pct(acks, 0.99) * 1000
        per_stream = 100 * cpu / wall / n
        print(
            f"{n:>4} {p50:>8.1f} {p99:>8.1f} {p99_steady:>14.1f} {ack_p99:>11.1f}"
            f" {lost + len(errors):>6} {per_stream:>10.1f}%"
        )
        if errors:
            print(f"     {len(errors)} streams failed: {errors[0]!r}"[:200])
        missed = p99 >= P99_LIMIT * 1000 or lost or errors
        if not missed:
            best = max(best, n)
        elif not args.streams:
            break
    print(f"\nlargest N with feedback p99 < {P99_LIMIT * 1000:.0f} ms and no lost frame: {best}")


if __name__ == "__main__":
    main()
