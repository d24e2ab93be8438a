"""Writing an export's objects under ``exports/<id>/``, fast and with checksums.

Every object goes through ``ExportSink``, which records its size and sha256
(for ``SHA256SUMS`` and the API's file list) as it is written. On S3 the sink
talks to the bucket through boto3 directly, with a thread pool: clips are
tens of kilobytes, and ``storage_put``'s exists/delete/save round trips would
triple the requests. Keys are deterministic, so a re-run overwrites a crashed
run's objects instead of adding new ones. On filesystem storage it falls back
to ``storage_put``.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from django.core.files.storage import default_storage

from shrutik.storage import COPY_BUFFER, is_s3, sha256_file, storage_put

# Larger files (archives, big shards) go up in parts: a failed part is retried
# alone, and parts upload in parallel.
MULTIPART_THRESHOLD = 64 * 1024**2


def _s3():
    """The bucket's boto3 client and name, configured exactly as the storage is.

    boto3 clients are thread-safe; the storage's connection is per thread, and
    building one per pool thread costs more than a small export's uploads.
    """
    return default_storage.client, default_storage.bucket_name


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before the I/O threads start.

    Each thread that allocates clip buffers otherwise gets its own arena (up to
    8 per core); buffers allocated in one thread and freed in another leave
    every arena fragmented, and the worker's RSS grows by ~100 MB for nothing.
    The same effect as MALLOC_ARENA_MAX=2, set where the threads are made.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


class ExportSink:
    def __init__(self, *, prefix: str, workdir: Path, threads: int = 8) -> None:
        _limit_malloc_arenas()
        self.prefix = prefix.rstrip("/") + "/"
        self.workdir = workdir
        self.s3 = is_s3()
        self.client, self.bucket = _s3() if self.s3 else (None, None)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="export-io")
        self.pending: list[Future] = []
        # Unsorted "sha256  path" lines for every object; sorted at the end.
        self.sums_path = workdir / "sha256sums.unsorted"
        self._sums = open(self.sums_path, "w", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self.listed: list[dict] = []  # top-level files shown in the API
        self.total_bytes = 0
        self.objects = 0

    # --- reading chunk audio -----------------------------------------------------
    def fetch_many(self, keys: list[str]) -> list[bytes | None]:
        """Stored objects' bytes, fetched in parallel; None for a missing object."""
        return list(self.pool.map(self._fetch, keys))

    def _fetch(self, key: str) -> bytes | None:
        if self.s3:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None
        try:
            with default_storage.open(key, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    # --- writing -------------------------------------------------------------------
    def _record(self, path: str, size: int, digest: str, *, listed: bool) -> None:
        with self._lock:
            if not self._sums.closed:  # SHA256SUMS itself comes after the close
                self._sums.write(f"{digest}  {path}\n")
            self.total_bytes += size
            self.objects += 1
            if listed:
                self.listed.append({"path": path, "size": size, "sha256": digest})

    def put_bytes(self, path: str, data: bytes, *, listed: bool = False) -> None:
        """Upload in the background; ``wait`` surfaces any error."""
        self._record(path, len(data), hashlib.sha256(data).hexdigest(), listed=listed)
        self.pending.append(self.pool.submit(self._put_bytes, self.prefix + path, data))

    def _put_bytes(self, key: str, data: bytes) -> None:
        if self.s3:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        else:
            storage_put(key, io.BytesIO(data))

    def put_key(self, key: str, data: bytes) -> None:
        """Upload to a full storage key, in the background, without listing it in
        ``SHA256SUMS`` (work objects, or clips recorded later with ``record``)."""
        self.pending.append(self.pool.submit(self._put_bytes, key, data))

    def record(self, path: str, size: int, digest: str) -> None:
        """Count an object another task already uploaded under the prefix."""
        self._record(path, size, digest, listed=False)

    def put_file(self, path: str, local: Path, *, listed: bool = True, delete: bool = True):
        """Upload a finished local file in the background, then delete it."""
        self._record(path, local.stat().st_size, sha256_file(local), listed=listed)
        self.pending.append(self.pool.submit(self._put_file, self.prefix + path, local, delete))

    def _put_file(self, key: str, local: Path, delete: bool) -> None:
        if self.s3:
            from boto3.s3.transfer import TransferConfig

            config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=4)
            self.client.upload_file(str(local), self.bucket, key, Config=config)
        else:
            with open(local, "rb") as fh:
                storage_put(key, fh)
        if delete:
            local.unlink(missing_ok=True)

    def wait(self) -> None:
        """Block until every background upload finished; re-raise the first error."""
        pending, self.pending = self.pending, []
        for future in pending:
            future.result()

    def write_checksums(self) -> None:
        """``SHA256SUMS`` in byte order (``sha256sum -c`` reads any order; sorted is
        reproducible), written with the system's external sort: constant memory."""
        self._sums.close()
        sorted_path = self.workdir / "SHA256SUMS"
        with open(sorted_path, "wb") as out:
            subprocess.run(
                ["sort", "-k2", "-S", "64M", "-T", str(self.workdir), str(self.sums_path)],
                stdout=out,
                check=True,
                env={"LC_ALL": "C"},
            )
        self.put_file("SHA256SUMS", sorted_path)
        # SHA256SUMS cannot list itself; the API still shows its size and hash.

    def close(self) -> None:
        if not self._sums.closed:
            self._sums.close()
        self.pool.shutdown(wait=True, cancel_futures=True)


def delete_prefix(prefix: str) -> int:
    """Remove every object under ``prefix`` (a restart's leftovers, a failed export)."""
    prefix = prefix.rstrip("/") + "/"
    deleted = 0
    if is_s3():
        client, bucket = _s3()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
    root = Path(default_storage.path(prefix))
    if root.exists():
        deleted = sum(1 for p in root.rglob("*") if p.is_file())
        shutil.rmtree(root)
    return deleted


def iter_prefix(prefix: str) -> Iterator[tuple[str, int]]:
    """(path relative to the prefix, size) of every object, in key order."""
    prefix = prefix.rstrip("/") + "/"
    if is_s3():
        client, bucket = _s3()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(prefix) :], obj["Size"]
        return
    root = Path(default_storage.path(prefix))
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield path.relative_to(root).as_posix(), path.stat().st_size


def open_object(key: str) -> Callable[[], io.BufferedReader]:
    return lambda: default_storage.open(key, "rb")


__all__ = ["COPY_BUFFER", "ExportSink", "delete_prefix", "iter_prefix", "open_object"]
