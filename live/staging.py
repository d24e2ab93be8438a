"""Where streamed frames wait until the reading ends: one object per frame.

Every acknowledged frame must already be durable, on whichever web node the
next connection lands. A frame is a second of Opus, a few kilobytes, and S3
multipart parts must be at least 5 MiB: a multipart upload would hold a whole
reading in a web process's memory, unacknowledgeable. So each frame is written
as its own small object under ``live/<session>/`` in the default storage (a
file on the filesystem shape, an object on S3), the write completes before the
acknowledgement, and ``assemble`` concatenates them in order at the end.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.core.files.storage import default_storage

from shrutik.storage import storage_put_bytes

PREFIX = "live"
READ_THREADS = 8


def part_key(session_id, seq: int) -> str:
    return f"{PREFIX}/{session_id}/{seq:07d}.part"


def put(session_id, seq: int, data: bytes) -> None:
    """Store frame ``seq`` under exactly its key (a retried write replaces the
    first, which was never acknowledged). One PUT on S3: this runs once a
    second for every reader streaming."""
    storage_put_bytes(part_key(session_id, seq), data)


def _read(key: str) -> bytes:
    with default_storage.open(key, "rb") as fh:
        return fh.read()


def iter_parts(session_id, count: int) -> Iterator[bytes]:
    """Frames 0..count-1 in order; reads a few ahead in threads (S3 round trips)."""
    keys = [part_key(session_id, seq) for seq in range(count)]
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        for start in range(0, len(keys), READ_THREADS * 4):
            yield from pool.map(_read, keys[start : start + READ_THREADS * 4])


def assemble(session_id, count: int, destination: Path) -> int:
    """Write frames 0..count-1, in order, into one file; returns its size."""
    size = 0
    with open(destination, "wb") as out:
        for data in iter_parts(session_id, count):
            out.write(data)
            size += len(data)
    return size


def read_all(session_id, count: int) -> bytes:
    buffer = io.BytesIO()
    for data in iter_parts(session_id, count):
        buffer.write(data)
    return buffer.getvalue()


def session_ids() -> list[uuid.UUID]:
    """Sessions that have anything staged."""
    try:
        folders, _ = default_storage.listdir(PREFIX)
    except FileNotFoundError:
        return []
    ids = []
    for name in folders:
        try:
            ids.append(uuid.UUID(name.rstrip("/")))
        except ValueError:
            continue
    return ids


def delete(session_id) -> int:
    """Remove every staged object of a session, acknowledged or not."""
    folder = f"{PREFIX}/{session_id}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    # Filesystem: drop the emptied folder too (object stores have none).
    with contextlib.suppress(NotImplementedError, OSError):
        Path(default_storage.path(folder)).rmdir()
    return len(files)
