"""Prometheus metrics: django-prometheus's request metrics plus the product's own.

The product's metrics are read from shared state at scrape time, never counted
in process memory: web and worker processes are many and restart, so a counter
kept in one of them would be invisible to, or reset under, the scraper.

- recordings and chunks by status, the chunk queue depth and consensus
  decisions by outcome come from PostgreSQL;
- Celery task failures are counted in Redis by a ``task_failure`` signal
  handler in the worker (shrutik/celery.py), per task name;
- task queue lengths are read from the Redis broker.

``GET /metrics`` is not public: it answers a bearer token (``METRICS_TOKEN``),
requests from ``METRICS_ALLOWED_IPS`` and staff users.
"""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

TASK_FAILURES_KEY = "metrics:task-failures"


# --- Task failures (written by workers) -----------------------------------------


def _redis_client():
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    return get_client(write=True) if get_client else None


def task_failure_record(task_name: str) -> None:
    """Count one failure of ``task_name`` where every process can read it."""
    client = _redis_client()
    if client is not None:
        client.hincrby(cache.make_key(TASK_FAILURES_KEY), task_name, 1)
        return
    # File cache (embedded shape: one worker process), so read-modify-write is safe.
    counts = cache.get(TASK_FAILURES_KEY) or {}
    counts[task_name] = counts.get(task_name, 0) + 1
    cache.set(TASK_FAILURES_KEY, counts, timeout=None)


def task_failure_counts() -> dict[str, int]:
    client = _redis_client()
    if client is not None:
        raw = client.hgetall(cache.make_key(TASK_FAILURES_KEY))
        return {name.decode(): int(count) for name, count in raw.items()}
    return dict(cache.get(TASK_FAILURES_KEY) or {})


def broker_queue_lengths() -> dict[str, int]:
    """Messages waiting per Celery queue, when the broker is Redis."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return {}
    import redis

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        with client.pipeline() as pipe:
            for queue in settings.CELERY_WORKER_QUEUES:
                pipe.llen(f"{prefix}{queue}")
            lengths = pipe.execute()
    finally:
        client.close()
    return dict(zip(settings.CELERY_WORKER_QUEUES, lengths, strict=True))


# --- Collector --------------------------------------------------------------------


def _aggregate(name: str, compute):
    """A database aggregate, computed at most once per ``METRICS_CACHE_SECONDS``.

    Counting chunks by status scans millions of rows; Prometheus scrapes every
    few seconds, from every replica. The figures are gauges of slow-moving
    queues, so a short-lived cached value serves them as well.
    """
    from django.conf import settings

    from shrutik.db import replica_reads

    seconds = settings.METRICS_CACHE_SECONDS
    key = f"metrics:{name}"
    value = cache.get(key) if seconds > 0 else None
    if value is None:
        # Gauges of slow-moving queues: the read replica's figures will do.
        with replica_reads():
            value = compute()
        if seconds > 0:
            cache.set(key, value, timeout=seconds)
    return value


class ShrutikCollector:
    """Reads the product's state at scrape time; one failing source skips only itself."""

    def collect(self):
        for source in (self._recordings, self._chunks, self._decisions, self._tasks):
            try:
                yield from source()
            except Exception:  # a scrape must still return the other metrics
                logger.warning("Metrics source %s failed", source.__name__, exc_info=True)

    def _recordings(self):
        from django.db.models import Count

        from recordings.models import Recording, RecordingStatus

        family = GaugeMetricFamily(
            "shrutik_recordings", "Recordings by processing status.", labels=["status"]
        )
        counts = _aggregate(
            "recordings",
            lambda: dict(
                Recording.objects.values_list("status").annotate(n=Count("id")).order_by()
            ),
        )
        for status in RecordingStatus.values:
            family.add_metric([status], counts.get(status, 0))
        yield family

    def _chunks(self):
        from django.db.models import Count, F

        from recordings.models import Chunk, ChunkStatus

        family = GaugeMetricFamily("shrutik_chunks", "Chunks by status.", labels=["status"])
        counts = _aggregate(
            "chunks",
            lambda: dict(Chunk.objects.values_list("status").annotate(n=Count("id")).order_by()),
        )
        for status in ChunkStatus.values:
            family.add_metric([status], counts.get(status, 0))
        yield family
        depth = _aggregate(
            "chunk_queue",
            lambda: Chunk.objects.filter(
                status=ChunkStatus.OPEN, transcriptions_received__lt=F("transcriptions_required")
            ).count(),
        )
        yield GaugeMetricFamily(
            "shrutik_chunk_queue_depth",
            "Open chunks still waiting for transcriptions.",
            value=depth,
        )
        yield GaugeMetricFamily(
            "shrutik_review_queue_depth",
            "Chunks waiting for a reviewer.",
            value=counts.get(ChunkStatus.NEEDS_REVIEW, 0),
        )

    def _decisions(self):
        from django.db.models import Count

        from consensus.models import ConsensusDecision

        family = CounterMetricFamily(
            "shrutik_consensus_decisions",
            "Consensus decisions recorded, by outcome and by who decided.",
            labels=["outcome", "decided_by"],
        )
        rows = _aggregate(
            "decisions",
            lambda: list(
                ConsensusDecision.objects.values_list("outcome", "decided_by")
                .annotate(n=Count("id"))
                .order_by()
            ),
        )
        for outcome, decided_by, n in rows:
            family.add_metric([outcome, decided_by], n)
        yield family

    def _tasks(self):
        failures = CounterMetricFamily(
            "shrutik_task_failures", "Celery tasks that ended in failure.", labels=["task"]
        )
        for name, count in sorted(task_failure_counts().items()):
            failures.add_metric([name], count)
        yield failures
        queues = GaugeMetricFamily(
            "shrutik_task_queue_length", "Messages waiting in the broker.", labels=["queue"]
        )
        for name, length in broker_queue_lengths().items():
            queues.add_metric([name], length)
        yield queues


PRODUCT_REGISTRY = CollectorRegistry(auto_describe=False)
PRODUCT_REGISTRY.register(ShrutikCollector())


def _process_registry():
    """django-prometheus's request, database and cache metrics of this process.

    With several gunicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` to a shared
    empty directory so the scrape sums every worker instead of one at random.
    """
    import prometheus_client
    from prometheus_client import multiprocess

    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


# --- View -----------------------------------------------------------------------------


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:], token):
        return True
    if request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS:
        return True
    user = getattr(request, "user", None)
    # Admins only: reviewers are staff too, for the review queue, and the
    # metrics are the operators' view of the platform.
    return bool(user is not None and user.is_authenticated and user.is_superuser)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return JsonResponse(
            {"detail": "Metrics need a bearer token (METRICS_TOKEN), an allowed "
                       "address (METRICS_ALLOWED_IPS) or an admin login."},
            status=403,
        )  # fmt: skip
    body = generate_latest(_process_registry()) + generate_latest(PRODUCT_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
