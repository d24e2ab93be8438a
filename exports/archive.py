"""A finished export as one tar archive, streamed object by object."""

from __future__ import annotations

import tarfile

from exports.models import Export
from exports.uploads import iter_prefix


def tar_stream(export: Export):
    """The export as one uncompressed tar, streamed object by object in 1 MiB reads.

    Headers are built with tarfile and the members' bytes copied straight
    through, so memory holds one read buffer whatever the file sizes.
    """
    from django.core.files.storage import default_storage

    root = f"shrutik-{export.version}-{str(export.id)[:8]}"
    mtime = int(export.finished_at.timestamp()) if export.finished_at else 0
    written = 0
    for path, size in iter_prefix(export.prefix):
        info = tarfile.TarInfo(f"{root}/{path}")
        info.size, info.mode, info.mtime = size, 0o644, mtime
        header = info.tobuf(format=tarfile.PAX_FORMAT)
        yield header
        sent = 0
        with default_storage.open(export.prefix + path, "rb") as fh:
            while sent < size and (block := fh.read(min(1024 * 1024, size - sent))):
                sent += len(block)
                yield block
        if sent != size:
            raise OSError(f"{path} changed while being archived")
        padding = -size % tarfile.BLOCKSIZE
        yield b"\0" * padding
        written += len(header) + size + padding
    # End of archive: two zero blocks, then zero-fill to a whole record as tar does.
    end = 2 * tarfile.BLOCKSIZE
    end += -(written + end) % tarfile.RECORDSIZE
    yield b"\0" * end
