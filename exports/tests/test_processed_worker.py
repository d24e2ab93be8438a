"""Processed exports built by real worker processes, including one killed mid-way."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from contextlib import contextmanager

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from exports.models import Export
from exports.tests.conftest import download
from exports.tests.test_processed_build import OPTIONS, make_corpus
from shrutik.testing import wait_until, worker_process


def request(api_client, researcher) -> str:
    api_client.force_authenticate(researcher)
    response = api_client.post(
        "/api/exports/",
        {"version": "processed", "formats": ["nemo", "huggingface"], "processing": OPTIONS},
        format="json",
    )
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def finished(export_id):
    export = Export.objects.get(pk=export_id)
    return export if export.status in {"done", "failed"} else None


def verify(export: Export, root) -> list[str]:
    """SHA256SUMS covers every file with its true hash; returns its lines."""
    lines = (root / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {
        "SHA256SUMS"
    }
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest, path
    return lines


@pytest.mark.e2e
def test_a_worker_builds_a_processed_export(worker, api_client, researcher, tmp_path):
    make_corpus(speakers=6, clips=2)
    export_id = request(api_client, researcher)
    export = wait_until(lambda: finished(export_id), timeout=120, what="the export to finish")
    assert export.status == "done", export.error
    root = download(export, tmp_path / "x")
    verify(export, root)
    meter = pyloudnorm.Meter(16000)
    for split in ("train", "dev", "test"):
        for line in (root / f"{split}_manifest.json").read_text().splitlines():
            entry = json.loads(line)
            if entry["augmentation"]:
                assert split == "train"
                continue
            samples, _ = sf.read(root / entry["audio_filepath"])
            assert meter.integrated_loudness(samples) == pytest.approx(-16.0, abs=0.5)
    assert export.stats["processing"]["augmented"]["speed=0.9"]["clips"] > 0


@contextmanager
def broker_qos():
    from kombu import Connection

    from shrutik.celery import app

    options = {**app.conf.broker_transport_options, "visibility_timeout": 0}
    with Connection(app.conf.broker_url, transport_options=options) as conn:
        yield conn.default_channel.qos, conn.default_channel.client


def unacknowledged(export_id: str) -> int:
    """Messages of this export that a worker holds."""
    with broker_qos() as (qos, client):
        # kombu prefixes the commands it uses itself; HVALS is not one of them.
        key = getattr(client, "global_keyprefix", "") + qos.unacked_key
        return sum(export_id in str(m) for m in client.hvals(key))


def restore_unacknowledged() -> int:
    """What a worker does once a dead consumer's messages went unrefreshed for
    the visibility timeout (a minute in production): put them back on their
    queues."""
    with broker_qos() as (qos, client):
        before = client.hlen(qos.unacked_key)
        qos.restore_visible(num=1000, interval=1)
        return before - client.hlen(qos.unacked_key)


@pytest.mark.e2e
def test_an_export_whose_worker_is_killed_restarts_and_finishes_identically(
    transactional_db, s3_server, api_client, researcher, tmp_path, monkeypatch, settings
):
    from django.db import connection

    from exports import services
    from shrutik.celery import app

    make_corpus(speakers=8, clips=3)
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "AWS_STORAGE_BUCKET_NAME": s3_server["bucket"],
        "AWS_S3_ENDPOINT_URL": s3_server["endpoint_url"],
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "EXPORT_BATCH_SIZE": "1",  # 24 batches: the kill lands in the middle
    }
    with worker_process(env, queues="default,exports") as first:
        export_id = request(api_client, researcher)

        def some_batches_done():
            export = Export.objects.get(pk=export_id)
            if export.status not in {"queued", "running"}:
                return True
            # Between two batches the worker holds none for a moment: kill it
            # while it holds one.
            return export.items_done >= 3 and unacknowledged(export_id) >= 1

        wait_until(some_batches_done, timeout=120, what="a few batches", interval=0.05)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    export = Export.objects.get(pk=export_id)
    assert export.status == "running", "the export finished before the worker was killed"
    assert export.items_done < export.items_total
    assert restore_unacknowledged() >= 1  # the batch the dead worker was holding

    # A new worker takes the queued batches and the redelivered one; nothing is purged.
    monkeypatch.setattr(app.control, "purge", lambda: 0)
    with worker_process(env, queues="default,exports"):
        export = wait_until(lambda: finished(export_id), timeout=180, what="the export")
    assert export.status == "done", export.error
    assert export.attempts == 1  # the batches resumed; the export did not start over
    lines = verify(export, download(export, tmp_path / "after-kill"))

    # The same request built without interruption, in this process: same bytes
    # (parquet row groups follow the batch size, so it is the same here).
    settings.EXPORT_BATCH_SIZE = 1
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        again = services.export_create(
            requester=researcher, formats=["nemo", "huggingface"], processing=OPTIONS
        )
        services.export_build(export_id=again.id)
    finally:
        app.conf.task_always_eager = app.conf.task_eager_propagates = False
    again.refresh_from_db()
    assert again.status == "done", again.error
    reference = verify(again, download(again, tmp_path / "reference"))

    def content(sums):
        return [line for line in sums if not line.endswith(("README.md", "stats.json"))]

    assert content(lines) == content(reference)
    assert np.isclose(export.stats["totals"]["seconds"], again.stats["totals"]["seconds"])
