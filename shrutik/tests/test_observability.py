"""/metrics, request ids and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import sys
from pathlib import Path

import pytest
from django.conf import settings

from consensus.models import ConsensusDecision
from recordings.models import Chunk, Recording, RecordingStatus
from recordings.tests.factories import make_chunks
from shrutik.logging import HEADER, current_request_id, set_request_id

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text format."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = "scrape-token-123"

    def get():
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123")
        assert response.status_code == 200
        return response.content.decode()

    return get


def test_metrics_are_refused_without_token_address_or_admin(client, make_user, reviewer, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert "METRICS_TOKEN" in client.get("/metrics").json()["detail"]
    client.force_login(make_user())
    assert client.get("/metrics").status_code == 403
    # Reviewers are staff, for the review queue; the metrics are for admins.
    assert reviewer.is_staff
    client.force_login(reviewer)
    assert client.get("/metrics").status_code == 403
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert client.get("/metrics").status_code == 200


def test_metrics_are_scraped_over_plain_http_inside_the_network(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = "scrape-token-123"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123")
    assert response.status_code == 200
    assert client.get("/api/me/").status_code == 301  # everything else goes to HTTPS


def test_metrics_from_an_allowed_address(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_metrics_follow_recordings_chunks_and_decisions(scrape, contributor, settings):
    settings.METRICS_CACHE_SECONDS = 0
    before = scrape()
    assert sample(before, "shrutik_recordings", status="chunked") == 0
    assert sample(before, "django_http_requests_before_middlewares_total") is not None

    chunks = make_chunks(3, contributor=contributor)
    Recording.objects.create(
        contributor=contributor, script=chunks[0].recording.script, sha256="1" * 64
    )
    Chunk.objects.filter(pk=chunks[0].pk).update(status="needs_review")
    ConsensusDecision.objects.create(
        chunk=chunks[1], outcome="accepted", decided_by="engine", method_version="t"
    )
    after = scrape()
    assert sample(after, "shrutik_recordings", status=RecordingStatus.CHUNKED) == 1
    assert sample(after, "shrutik_recordings", status=RecordingStatus.UPLOADED) == 1
    assert sample(after, "shrutik_chunks", status="open") == 2
    assert sample(after, "shrutik_chunk_queue_depth") == 2
    assert sample(after, "shrutik_review_queue_depth") == 1
    assert (
        sample(after, "shrutik_consensus_decisions_total", outcome="accepted", decided_by="engine")
        == 1
    )
    assert sample(after, "shrutik_task_queue_length", queue="audio") is not None


def test_database_aggregates_are_cached_between_scrapes(scrape, contributor, settings):
    settings.METRICS_CACHE_SECONDS = 60
    make_chunks(2, contributor=contributor)
    assert sample(scrape(), "shrutik_chunks", status="open") == 2
    make_chunks(1, contributor=contributor)
    assert sample(scrape(), "shrutik_chunks", status="open") == 2  # within the period
    settings.METRICS_CACHE_SECONDS = 0
    assert sample(scrape(), "shrutik_chunks", status="open") == 3


def test_task_failures_are_counted_across_processes(scrape):
    from recordings.tasks import recording_process

    def failures():
        return sample(scrape(), "shrutik_task_failures_total", task="recordings.process") or 0

    before = failures()
    # Not a UUID: the task fails, and the failure signal counts it in Redis.
    result = recording_process.apply(args=["not-a-recording-id"])
    assert result.failed()
    assert failures() == before + 1


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="edge-4f2a-01")
    assert given[HEADER] == "edge-4f2a-01"
    generated = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated[HEADER])
    # Values that could forge or break log lines are replaced.
    forged = client.get("/healthz", HTTP_X_REQUEST_ID='x" level=ERROR\nfake')
    assert re.fullmatch(r"[0-9a-f]{32}", forged[HEADER])


@pytest.fixture
def json_log():
    """The deployed shape's JSON handler, writing to a buffer."""
    config = json.loads(json.dumps(settings.LOGGING, default=str))
    stream = io.StringIO()
    config["formatters"]["json"] = settings.LOGGING["formatters"]["json"]
    config["handlers"] = {
        "buffer": {
            "class": "logging.StreamHandler",
            "stream": stream,
            "formatter": "json",
            "filters": ["request_id"],
        }
    }
    config["root"] = {"handlers": ["buffer"], "level": "INFO"}
    logging.config.dictConfig(config)
    yield stream
    logging.config.dictConfig(settings.LOGGING)


def test_log_lines_are_json_with_the_request_id(client, json_log):
    client.get("/api/no-such-endpoint/", HTTP_X_REQUEST_ID="trace-77aa-bb")
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert not_found, records
    assert not_found[0]["request_id"] == "trace-77aa-bb"
    assert not_found[0]["level"] == "WARNING"
    assert "no-such-endpoint" in not_found[0]["message"]
    assert {"time", "level", "logger", "message", "request_id"} <= set(not_found[0])
    assert current_request_id() is None  # cleared once the response is finished


def test_tasks_published_in_a_request_carry_its_id():
    import redis
    from celery.signals import task_prerun

    from shrutik.tasks import heartbeat

    set_request_id("upload-9c1d-ef")
    try:
        heartbeat.apply_async(queue="request-id-test")
    finally:
        set_request_id(None)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    raw = broker.rpop(f"{prefix}request-id-test")
    broker.delete(f"{prefix}request-id-test")
    headers = json.loads(raw)["headers"]
    assert headers["request_id"] == "upload-9c1d-ef"

    seen = []

    def during(**kwargs):
        seen.append(current_request_id())

    task_prerun.connect(during)
    try:
        heartbeat.apply(headers=headers)  # as the worker runs the message
        heartbeat.apply()
    finally:
        task_prerun.disconnect(during)
    assert seen == ["upload-9c1d-ef", None]
    assert current_request_id() is None


def test_a_worker_logs_json_lines_with_the_publishing_request_id(worker):
    from shrutik.tasks import heartbeat
    from shrutik.testing import wait_until

    set_request_id("from-web-5e6f")
    try:
        result = heartbeat.delay()
    finally:
        set_request_id(None)

    def logged():
        for line in Path(worker.log_path).read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and result.id in line and "succeeded" in line:
                return json.loads(line)
        return None

    record = wait_until(logged, timeout=30, what="the worker to log the task")
    assert record["request_id"] == "from-web-5e6f"
    assert record["logger"] == "celery.app.trace"


def test_compose_services_have_health_checks_and_wait_for_healthy_dependencies():
    import yaml

    from shrutik.testing import ROOT

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("postgres", "redis", "s3", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_benchmarks_serve_the_web_command_compose_ships():
    """bench/ figures are only about production if its server is production's."""
    import importlib.util

    import yaml

    from shrutik.testing import ROOT

    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "bench" / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]

    def without_address(command: list[str]) -> list[str]:
        at = command.index("--bind")
        return command[:at] + command[at + 2 :]

    bench = common.web_command(8000, workers=3)
    assert bench[:3] == [sys.executable, "-m", "gunicorn"]
    assert without_address(bench[3:]) == without_address(compose["command"][1:])


@pytest.mark.parametrize(
    ("logger_name", "message", "args"),
    [
        # uvicorn, accepting a live-recording socket authenticated by query string.
        (
            "uvicorn.error",
            '%s - "WebSocket %s" [accepted]',
            ("127.0.0.1:50000", "/ws/record/?script=3&token=eyJhbGciOi.payload.sig"),
        ),
        # uvicorn's access line for a plain request.
        (
            "uvicorn.access",
            '%s - "%s %s HTTP/%s" %d',
            (
                "127.0.0.1:50000",
                "GET",
                "/ws/record/?token=eyJhbGciOi.payload.sig&script=3",
                "1.1",
                101,
            ),
        ),
        # gunicorn's access line: named atoms, the request line among them.
        (
            "gunicorn.access",
            '%(h)s "%(r)s" %(s)s',
            (
                {
                    "h": "127.0.0.1",
                    "r": "GET /ws/record/?TOKEN=eyJhbGciOi.payload.sig HTTP/1.1",
                    "s": "101",
                },
            ),
        ),
    ],
)
def test_query_string_tokens_never_reach_the_server_logs(logger_name, message, args):
    logger = logging.getLogger(logger_name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(message, *args)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    line = stream.getvalue()
    assert "eyJhbGciOi" not in line
    assert "=[redacted]" in line
    assert "/ws/record/" in line


def test_every_request_has_a_json_access_line_without_its_query(client, json_log):
    response = client.get(
        "/healthz?token=eyJhbGciOi.payload.sig", HTTP_X_REQUEST_ID="trace-access-01"
    )
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "shrutik.access"]
    assert len(access) == 1, records
    line = access[0]
    assert line["request_id"] == "trace-access-01"
    assert line["method"] == "GET" and line["path"] == "/healthz"
    assert line["status"] == response.status_code
    assert line["duration_ms"] >= 0 and line["bytes"] == len(response.content)
    assert "eyJhbGciOi" not in json_log.getvalue()
