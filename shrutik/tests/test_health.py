"""Liveness and readiness with real processes: the compose web command against
a PostgreSQL, a Redis and an S3 endpoint of the test's own, stopped one by one."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from shrutik.testing import ROOT, wait_until
from shrutik.tests.postgres import private_servers
from shrutik.tests.test_faults import app_env, gunicorn, private_redis  # noqa: F401

# Kubernetes probes a pod at its own address, which ALLOWED_HOSTS does not list.
POD_HOST = {"Host": "10.244.1.17:8000"}


@pytest.fixture
def private_s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="ready")
    server.endpoint = endpoint
    yield server
    server.stop()


def readiness(web) -> tuple[int, dict]:
    response = web.get("/healthz/ready", headers=POD_HOST)
    return response.status_code, {k: v["ok"] for k, v in response.json()["checks"].items()}


def test_ready_only_with_every_dependency_and_the_schema_and_live_regardless(
    private_redis,  # noqa: F811
    private_s3,
):
    with private_servers(replica=False) as (postgres, _):
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE shrutik")
        env = app_env(
            {"bucket": "ready", "endpoint_url": private_s3.endpoint},
            DATABASE_URL=postgres.url("shrutik"),
            REDIS_URL=private_redis.url(0),
            CELERY_BROKER_URL=private_redis.url(1),
            HEALTH_TIMEOUT_SECONDS="3",
        )
        with gunicorn(env) as web:
            live = lambda: web.get("/healthz/live", headers=POD_HOST).status_code  # noqa: E731
            # Started before `migrate` finished: alive, not ready.
            assert readiness(web) == (
                503,
                {"database": True, "migrations": False, "broker": True, "storage": True},
            )
            assert live() == 200
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT, env={**os.environ, **env}, check=True, timeout=300,
            )  # fmt: skip
            everything = {"database": True, "migrations": True, "broker": True, "storage": True}
            assert readiness(web) == (200, everything)

            private_redis.stop()
            assert readiness(web) == (503, {**everything, "broker": False})
            assert live() == 200
            private_redis.start()
            wait_until(lambda: readiness(web)[0] == 200, timeout=30, what="ready again")

            private_s3.stop()
            assert readiness(web) == (503, {**everything, "storage": False})
            assert live() == 200

            postgres.stop()
            status, checks = readiness(web)
            assert status == 503 and checks["database"] is False
            assert checks["migrations"] is False  # not checked without a database
            assert live() == 200
