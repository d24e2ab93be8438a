"""Private PostgreSQL servers for tests that stop a server or replicate one.

The shared server on 127.0.0.1:5432 is left alone: a replica of it would copy
every other test run's databases, and replication needs a pg_hba.conf line it
does not have. Each server here is a cluster of its own (``initdb`` in a
temporary directory, trust authentication on loopback, a free port), stopped
and deleted on the way out. As root the server runs as ``postgres``, which
PostgreSQL requires.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path:
    # Debian keeps the server programs out of PATH, one folder per major version.
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"), key=_major)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_basebackup")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")


def _major(path: str) -> int:
    return int(Path(path).parts[-3])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, root: Path, name: str):
        self.dir = root / name
        self.port = _free_port()
        self.log = root / f"{name}.log"

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        command = [str(_bindir() / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed:\n{result.stdout}{result.stderr}{log}")

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "--no-sync")

    def basebackup_from(self, primary: Cluster) -> None:
        # -R: starts as a standby streaming from the primary.
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.dir), "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir.parent}"
            # A test server: durability is not what is tested.
            " -c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.dir / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


@contextmanager
def private_servers(*, replica: bool) -> Iterator[tuple[Cluster, Cluster | None]]:
    """A primary, and a streaming replica of it if asked."""
    root = Path(tempfile.mkdtemp(prefix="shrutik-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = Cluster(root, "primary")
    standby = Cluster(root, "replica") if replica else None
    try:
        primary.initdb()
        primary.start()
        if standby is not None:
            standby.basebackup_from(primary)
            standby.start()
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            if cluster is not None and cluster.running():
                # Best effort: the directory goes anyway.
                with contextlib.suppress(Exception):
                    cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
