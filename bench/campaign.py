"""One campaign on loopback: W connected watchers while P participants upload
readings that a real Celery worker cuts into chunks.

Shapes (``--shape``):

- ``deployed`` (default): docker-compose.yml's web server (gunicorn with
  ``--web-workers`` uvicorn workers, 2 by default) and a Celery worker, on a
  scratch PostgreSQL database, a private Redis and moto's S3 (bench/common.py).
- ``embedded``: ``manage.py run_embedded`` as ``make run`` starts it (SQLite,
  files, the filesystem broker, its web processes and worker).

The organiser and W-1 participants watch ``/ws/campaigns/<id>/``; P other
participants each upload the shared Bangla reading once, spread over
``--spread`` seconds. Every change (an upload, a chunking by the worker) is a
CampaignEvent row stamped by the process that made it; a watcher has seen it
when it receives a progress message whose ``version`` is at least that
event's id. The latency is the time from the event's stamp to that message,
for every event at every watcher (same machine, same clock).

Prints: latency p50/p99/max, messages per socket per second (while events
arrive), watchers that did not reach the final state, the server's CPU (% of
one core) per 100 watchers while idle and while busy, and its memory (RSS of
its processes) before and after the watchers connected.

    .venv/bin/python bench/campaign.py [--shape deployed|embedded] [--watchers 500]
        [--uploaders 20] [--web-workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from datetime import timedelta

import httpx
from common import (
    ROOT,
    Services,
    consented_users,
    embedded_env,
    pct,
    release_database,
    setup_django,
    start_embedded,
    start_server,
    start_worker,
    stop,
)

DB = "shrutik_bench_campaign"
READING = [
    ROOT.parent / "shared" / "data" / "speech" / "bn_read_fluent.webm",
    ROOT / "recordings" / "tests" / "fixtures" / "bn_read_fluent.webm",
]
P99_GOAL = 1.0


def setup(watchers: int, uploaders: int, script_text: str) -> dict:
    """A language, the reading's script, a campaign, and its people with tokens."""
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from campaigns.models import Participation
    from campaigns.services import campaign_create
    from contributors.services import user_set_roles
    from recordings.models import Language
    from recordings.scripts import script_build

    language = Language.objects.create(code="bn", name="Bangla", native_name="বাংলা")
    script = script_build(language=language, text=script_text)
    script.save()
    organiser, *people = consented_users(
        ["organiser"]
        + [f"watcher{i}" for i in range(watchers - 1)]
        + [f"reader{i}" for i in range(uploaders)]
    )
    user_set_roles(user=organiser, roles={"contributor", "organiser"})
    now = timezone.now()
    campaign = campaign_create(
        organiser=organiser,
        name="Bench drive",
        language=language,
        goal_recorded_minutes=60,
        goal_validated_minutes=30,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=4),
    )
    Participation.objects.bulk_create(
        Participation(campaign=campaign, user=user, number=n, show_name=n % 2 == 0)
        for n, user in enumerate(people, start=1)
    )
    token = lambda user: str(AccessToken.for_user(user))  # noqa: E731
    return {
        "campaign": campaign.pk,
        "script": script.pk,
        "watchers": [token(organiser)] + [token(u) for u in people[: watchers - 1]],
        "uploaders": [token(u) for u in people[watchers - 1 :]],
    }


def events() -> list[tuple[int, str, float]]:
    """(id, kind, stamp as epoch seconds) of every campaign event."""
    from campaigns.models import CampaignEvent

    return [
        (pk, kind, created_at.timestamp())
        for pk, kind, created_at in CampaignEvent.objects.order_by("id").values_list(
            "id", "kind", "created_at"
        )
    ]


def server_processes(pid: int):
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for proc in server_processes(pid):
        with contextlib.suppress(Exception):
            total += sum(proc.cpu_times()[:2])
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for proc in server_processes(pid):
        with contextlib.suppress(Exception):
            total += proc.memory_info().rss
    return total / 1024 / 1024


class Watcher:
    def __init__(self) -> None:
        self.received: list[tuple[float, int]] = []  # (epoch seconds, version)
        self.last: dict | None = None
        self.error: BaseException | None = None


async def watch(url: str, origin: str, token: str, watcher: Watcher, connected, stop_event):
    from websockets.asyncio.client import connect

    try:
        async with connect(f"{url}?token={token}", origin=origin, open_timeout=120) as ws:
            first = True
            while not stop_event.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                message = json.loads(raw)
                if message.get("type") != "progress":
                    raise RuntimeError(message)
                watcher.received.append((time.time(), message["version"]))
                watcher.last = message
                if first:
                    first = False
                    connected.release()
    except BaseException as exc:  # reported in the summary
        watcher.error = exc
        connected.release()


async def upload(base: str, token: str, script: int, data: bytes, delay: float) -> int:
    await asyncio.sleep(delay)
    async with httpx.AsyncClient(timeout=120) as client:
        response = await client.post(
            f"{base}/api/recordings/",
            data={"script": str(script)},
            files={"audio": ("reading.webm", data, "audio/webm")},
            headers={"Authorization": f"Bearer {token}"},
        )
    return response.status_code


async def drive(base: str, server_pid: int, people: dict, data: bytes, args) -> dict:
    url = base.replace("http", "ws", 1) + f"/ws/campaigns/{people['campaign']}/"
    memory_before = rss_mb(server_pid)
    stop_event = asyncio.Event()
    connected = asyncio.Semaphore(0)
    watchers = [Watcher() for _ in people["watchers"]]
    tasks = []
    for token, watcher in zip(people["watchers"], watchers, strict=True):
        tasks.append(asyncio.create_task(watch(url, base, token, watcher, connected, stop_event)))
        await asyncio.sleep(0.002)  # a class arriving, not one burst of handshakes
    for _ in watchers:
        await asyncio.wait_for(connected.acquire(), 180)
    await asyncio.sleep(2)
    memory_after = rss_mb(server_pid)
    # Idle: every socket connected, nothing happening.
    cpu, wall = cpu_seconds(server_pid), time.perf_counter()
    await asyncio.sleep(args.idle)
    idle_cpu = (cpu_seconds(server_pid) - cpu) / (time.perf_counter() - wall)

    start = time.time()
    cpu, wall = cpu_seconds(server_pid), time.perf_counter()
    spread = args.spread / max(1, len(people["uploaders"]))
    statuses = await asyncio.gather(
        *(
            upload(base, token, people["script"], data, i * spread)
            for i, token in enumerate(people["uploaders"])
        )
    )

    # Until every reading is chunked or rejected and every watcher has the last event.
    def finished() -> bool:
        return all(
            w.last
            and sum(w.last["recordings"].values()) == len(people["uploaders"])
            and w.last["recordings"]["waiting"] == 0
            for w in watchers
            if w.error is None
        )

    deadline = time.time() + args.timeout
    while time.time() < deadline and not finished():
        await asyncio.sleep(0.5)
    busy_wall = time.perf_counter() - wall
    busy_cpu = (cpu_seconds(server_pid) - cpu) / busy_wall
    end = time.time()
    await asyncio.sleep(2 * 0.5 + 1)  # a last tick for stragglers
    stop_event.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "watchers": watchers,
        "uploads": statuses,
        "start": start,
        "end": end,
        "idle_cpu": idle_cpu,
        "busy_cpu": busy_cpu,
        "memory_before": memory_before,
        "memory_after": memory_after,
    }


def report(run: dict, stamped: list[tuple[int, str, float]], args) -> None:
    watchers = run["watchers"]
    failed = [w for w in watchers if w.error is not None]
    live = [w for w in watchers if w.error is None]
    changes = [(pk, stamp) for pk, kind, stamp in stamped if stamp >= run["start"] - 1]
    latencies = []
    for w in live:
        received = w.received
        i = 0
        for pk, stamp in changes:
            while i < len(received) and received[i][1] < pk:
                i += 1
            if i < len(received):
                latencies.append(received[i][0] - stamp)
    final = stamped[-1][0] if stamped else 0
    behind = [w for w in live if not w.received or w.received[-1][1] < final]
    seconds = max(1e-9, run["end"] - run["start"])
    rates = [
        sum(1 for at, _v in w.received if run["start"] <= at <= run["end"]) / seconds for w in live
    ]
    n = len(watchers)
    kinds: dict[str, int] = {}
    for _pk, kind, stamp in stamped:
        if stamp >= run["start"] - 1:
            kinds[kind] = kinds.get(kind, 0) + 1
    with os.popen("uptime") as up:
        print(f"machine: {os.cpu_count()} cores, {up.read().strip()}")
    accepted = sum(status == 201 for status in run["uploads"])
    print(f"shape: {args.shape}, web workers: {args.web_workers}, watchers: {n}, "
          f"uploads: {len(run['uploads'])} ({accepted} accepted)")  # fmt: skip
    print(f"events: {len(changes)} {kinds} over {seconds:.1f} s")
    print(f"latency event -> progress at every watcher ({len(latencies)} pairs): "
          f"p50 {pct(latencies, 0.5) * 1000:.0f} ms, p99 {pct(latencies, 0.99) * 1000:.0f} ms, "
          f"max {max(latencies, default=float('nan')) * 1000:.0f} ms")  # fmt: skip
    print(f"messages per socket per second: mean {sum(rates) / max(1, len(rates)):.2f}, "
          f"max {max(rates, default=0):.2f}")  # fmt: skip
    print(f"watchers failed: {len(failed)}, not at the final state: {len(behind)}")
    if failed:
        print(f"  first failure: {failed[0].error!r}"[:200])
    idle, busy = 100 * run["idle_cpu"], 100 * run["busy_cpu"]
    print(f"server CPU per 100 watchers: idle {idle / n * 100:.1f}%, busy {busy / n * 100:.1f}% "
          f"of a core (in all: idle {idle:.0f}%, busy {busy:.0f}%)")  # fmt: skip
    per_watcher = (run["memory_after"] - run["memory_before"]) / n * 1024
    print(f"server memory: {run['memory_before']:.0f} MB before the watchers, "
          f"{run['memory_after']:.0f} MB with them ({per_watcher:.0f} kB per watcher)")  # fmt: skip
    ok = pct(latencies, 0.99) <= P99_GOAL and not failed and not behind
    print(f"goal (p99 <= {P99_GOAL:.0f} s, every watcher at the final state): "
          f"{'met' if ok else 'missed'}")  # fmt: skip


def run_deployed(args, meta, data) -> None:
    web = worker = None
    with Services() as services:
        try:
            env = services.env(DB, THROTTLE_UPLOAD="100000/hour")
            setup_django(env, DB)
            people = setup(args.watchers, args.uploaders, meta["script"])
            worker = start_worker(env, concurrency=args.worker_concurrency)
            web, base = start_server(env, args.web_workers)
            run = asyncio.run(drive(base, web.pid, people, data, args))
            report(run, events(), args)
        finally:
            for proc in (web, worker):
                stop(proc)
            release_database(DB, keep=args.keep)


def run_embedded(args, meta, data) -> None:
    with tempfile.TemporaryDirectory(prefix="shrutik-bench-campaign-") as var:
        env = embedded_env(var, THROTTLE_UPLOAD="100000/hour", LOG_LEVEL="WARNING")
        setup_django(env, None)
        people = setup(args.watchers, args.uploaders, meta["script"])
        server, base = start_embedded(env, args.web_workers, args.worker_concurrency)
        try:
            run = asyncio.run(drive(base, server.pid, people, data, args))
            report(run, events(), args)
        finally:
            stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["deployed", "embedded"], default="deployed")
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--uploaders", type=int, default=20)
    parser.add_argument(
        "--spread", type=float, default=20.0, help="seconds over which uploads start"
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    source = next(p for p in READING if p.exists())
    meta = json.loads(source.with_suffix(".json").read_text())
    data = source.read_bytes()
    (run_embedded if args.shape == "embedded" else run_deployed)(args, meta, data)


if __name__ == "__main__":
    main()
