"""The suite runs on the deployed shape: prove it really talks to each service."""

import os
import uuid

import boto3
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings


@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


def test_cache_is_redis():
    client = cache._cache.get_client()
    assert client.ping() is True
    key = f"probe-{uuid.uuid4()}"
    cache.set(key, "v", 10)
    assert cache.get(key) == "v"
    assert any(k.decode().endswith(key) for k in client.keys("*probe-*"))


def test_broker_is_redis():
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_storage_writes_to_the_s3_endpoint(s3_server):
    name = default_storage.save(f"probe/{uuid.uuid4()}.txt", ContentFile(b"hello"))
    s3 = boto3.client("s3", endpoint_url=s3_server["endpoint_url"], region_name="us-east-1")
    body = s3.get_object(Bucket=s3_server["bucket"], Key=name)["Body"].read()
    assert body == b"hello"
    url = default_storage.url(name)
    assert url.startswith(s3_server["endpoint_url"]) and "X-Amz-Signature" in url
    default_storage.delete(name)


def test_request_threads_share_one_boto3_session_each_with_its_own_resource(s3_server, monkeypatch):
    """Under ASGI every request runs in a new thread: a new boto3 session per
    thread would load botocore's models again on every request."""
    import threading

    import boto3
    from django.core.files.storage import storages

    storage = storages.create_storage(settings.STORAGES["default"])
    sessions = []
    real_session = boto3.Session

    def counted(*args, **kwargs):
        sessions.append(real_session(*args, **kwargs))
        return sessions[-1]

    monkeypatch.setattr(boto3, "Session", counted)
    name = storage.save(f"probe/{uuid.uuid4()}.txt", ContentFile(b"hello"))
    seen = []

    def request():
        seen.append((storage.connection, storage.url(name), storage.open(name).read()))

    threads = [threading.Thread(target=request) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    storage.delete(name)
    assert len(sessions) == 1
    assert len({id(connection) for connection, _, _ in seen}) == 3
    assert all("X-Amz-Signature" in url and body == b"hello" for _, url, body in seen)


@pytest.mark.django_db
def test_healthz_reports_every_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert {k: v["ok"] for k, v in checks.items() if k != "worker"} == {
        "database": True,
        "broker": True,
        "storage": True,
    }
    assert checks["worker"]["alive"] is False  # no worker in this test


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_when_it_is_down(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False and checks["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_naming_storage_when_the_bucket_is_gone(client, s3_server):
    storages = {**settings.STORAGES}
    storages["default"] = {
        **storages["default"],
        "OPTIONS": {**storages["default"]["OPTIONS"], "bucket_name": "no-such-bucket"},
    }
    with override_settings(STORAGES=storages):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False
    assert "404" in response.json()["checks"]["storage"]["error"]


@pytest.mark.django_db
def test_heartbeat_task_marks_worker_alive(client):
    from shrutik.tasks import heartbeat

    heartbeat.apply()
    worker = client.get("/healthz").json()["checks"]["worker"]
    assert worker["alive"] is True


def test_a_signed_url_reads_exactly_its_object_from_the_endpoint(s3_server):
    import httpx

    from shrutik.storage import signed_url

    name = default_storage.save(f"probe/{uuid.uuid4()}.txt", ContentFile(b"signed"))
    try:
        url = signed_url(name, expires=60)
        assert "X-Amz-Signature" in url and "X-Amz-Expires=60" in url
        # What a browser does with it: a plain GET, no credentials of its own.
        assert httpx.get(url).content == b"signed"
    finally:
        default_storage.delete(name)


def test_exists_asks_the_endpoint_for_the_object(s3_server):
    # Storage.exists is a HeadObject: chunk and export checks rely on it.
    name = default_storage.save(f"probe/{uuid.uuid4()}.txt", ContentFile(b"x"))
    assert default_storage.exists(name)
    default_storage.delete(name)
    assert not default_storage.exists(name)


def test_large_export_files_are_uploaded_in_parts(s3_server, tmp_path, monkeypatch):
    from exports import uploads

    # The smallest part size S3 accepts, instead of 64 MB of test data.
    monkeypatch.setattr(uploads, "MULTIPART_THRESHOLD", 5 * 1024**2)
    local = tmp_path / "shard.tar"
    data = os.urandom(11 * 1024**2)
    local.write_bytes(data)
    prefix = f"probe/{uuid.uuid4()}"
    sink = uploads.ExportSink(prefix=prefix, workdir=tmp_path, threads=2)
    try:
        sink.put_file("shard.tar", local)
        sink.wait()
    finally:
        sink.close()
    s3 = boto3.client("s3", endpoint_url=s3_server["endpoint_url"], region_name="us-east-1")
    head = s3.head_object(Bucket=s3_server["bucket"], Key=f"{prefix}/shard.tar")
    assert "-" in head["ETag"]  # a multipart upload's ETag counts its parts
    assert s3.get_object(Bucket=s3_server["bucket"], Key=f"{prefix}/shard.tar")["Body"].read() == (
        data
    )
    s3.delete_object(Bucket=s3_server["bucket"], Key=f"{prefix}/shard.tar")


def test_signed_urls_name_the_public_endpoint_browsers_reach(s3_server):
    """In compose the app reaches S3 at an internal name and browsers through
    nginx: URLs are signed for the public address, and they read the object."""
    import httpx
    from django.core.files.storage import storages

    from shrutik.csp import storage_media_origins

    public = s3_server["endpoint_url"].replace("127.0.0.1", "localhost")
    config = settings.STORAGES["default"]
    config = {**config, "OPTIONS": {**config["OPTIONS"], "public_endpoint_url": public}}
    storage = storages.create_storage(config)
    name = storage.save(f"probe/{uuid.uuid4()}.txt", ContentFile(b"public"))
    try:
        url = storage.url(name, expire=60)
        assert url.startswith(f"{public}/{s3_server['bucket']}/probe/")
        assert "X-Amz-Signature" in url and "X-Amz-Expires=60" in url
        assert httpx.get(url).content == b"public"
        with override_settings(STORAGES={**settings.STORAGES, "default": config}):
            assert storage_media_origins() == [public]
    finally:
        storage.delete(name)


def test_small_objects_replace_files_whole_on_the_filesystem_storage(tmp_path, settings):
    """The embedded shape's storage: a chunk written again replaces the old
    file by a rename (never missing, never half written), with the storage's
    permissions, and leaves no temporary file behind."""
    from shrutik.storage import storage_put_bytes

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    storage_put_bytes("chunks/r/0.flac", b"first")
    storage_put_bytes("chunks/r/0.flac", b"second, longer")
    assert default_storage.open("chunks/r/0.flac").read() == b"second, longer"
    assert sorted(p.name for p in (tmp_path / "chunks" / "r").iterdir()) == ["0.flac"]
    assert (tmp_path / "chunks" / "r" / "0.flac").stat().st_mode & 0o777 == 0o644
