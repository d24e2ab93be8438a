"""The read replica against a real streaming replica of a private primary.

Starts a primary (``initdb``) and a standby made from it with
``pg_basebackup``, each on a free port (shrutik/tests/postgres.py), then runs
``replica_cases.py`` in a pytest of its own pointed at them: the test
database must be created on that primary, so the cases cannot share this
run's database on the shared server.
"""

from __future__ import annotations

import os
import subprocess
import sys

from shrutik.testing import ROOT
from shrutik.tests.postgres import private_servers


def test_the_read_replica_cases_pass_against_a_streaming_replica():
    run_id = f"{os.environ.get('SHRUTIK_TEST_RUN', os.getpid())}r"
    with private_servers(replica=True) as (primary, replica):
        env = {
            **os.environ,
            "DATABASE_URL": primary.url("shrutik"),
            "DATABASE_REPLICA_URL": replica.url("shrutik"),
            # Cache keys and queues of their own.
            "SHRUTIK_TEST_RUN": run_id,
            "CACHE_KEY_PREFIX": f"test{run_id}",
        }
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "shrutik/tests/replica_cases.py",
             "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra --strict-markers"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]
