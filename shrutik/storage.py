"""Object storage helpers shared by every app: put, signed URLs, local copies.

The same keys work on S3 and on the filesystem. Audio is personal data, so it is
only ever reached through URLs that expire and name exactly one object.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.core import signing
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.urls import reverse
from django.utils.http import content_disposition_header

SIGNED_MEDIA_SALT = "shrutik.media"
COPY_BUFFER = 1024 * 1024


class TransientStorageError(Exception):
    """Storage could not be reached; the operation may succeed if retried."""


def is_s3() -> bool:
    # bucket_name, not bucket: the bucket would build this thread's boto3 resource.
    return getattr(default_storage, "bucket_name", None) is not None


def transient_errors() -> tuple[type[BaseException], ...]:
    """Exceptions worth retrying a task for: storage that could not be reached."""
    from django.conf import settings

    if settings.STORAGE_BACKEND != "s3":
        # botocore is large; a filesystem-storage process never needs it.
        return (TransientStorageError,)
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    return (BotoConnectionError, ConnectTimeoutError, ReadTimeoutError, TransientStorageError)


def storage_keys(prefix: str) -> set[str]:
    """The keys of the objects directly under ``prefix``, in one listing."""
    try:
        _, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return set()
    return {f"{prefix}/{name}" for name in files}


def storage_put(key: str, fileobj: IO[bytes]) -> str:
    """Write ``fileobj`` under exactly ``key``, replacing any previous object.

    Storages are configured not to overwrite (uploads must never clobber each
    other), but derived objects with deterministic keys — chunks, export files —
    must be rewritable so that a re-run replaces a crashed run's output. Small
    ones go through ``storage_put_bytes``, in one request.
    """
    if default_storage.exists(key):
        default_storage.delete(key)
    name = default_storage.save(key, File(fileobj, name=key))
    if name != key:  # a concurrent writer won the race; keep exactly one object
        default_storage.delete(name)
        raise TransientStorageError(f"concurrent write to {key}")
    return name


def storage_put_bytes(key: str, data: bytes) -> None:
    """Write ``data`` under exactly ``key``, replacing any previous object.

    For small objects with deterministic keys (live frames, chunks). On S3 it
    is one PUT, which replaces an older object by itself: ``storage_put``'s
    existence checks are a HEAD request or two, and django-storages' ``save``
    goes through boto3's transfer manager, whose thread pool and bookkeeping
    cost more CPU than the request itself for a few kilobytes.
    """
    if is_s3():
        default_storage.client.put_object(
            Bucket=default_storage.bucket_name,
            Key=key,
            Body=data,
            # As django-storages would set it: browsers play chunks by their type.
            ContentType=mimetypes.guess_type(key)[0] or "application/octet-stream",
        )
    elif isinstance(default_storage, FileSystemStorage):
        _replace_file(default_storage, key, data)
    else:
        storage_put(key, io.BytesIO(data))


def _replace_file(storage: FileSystemStorage, key: str, data: bytes) -> None:
    """Write ``data`` under ``key`` in a filesystem storage by renaming a
    finished temporary file over it: readers see the old object or the new,
    never a missing or half-written one, and it costs a third of
    ``storage_put``'s existence check, delete and collision-safe save."""
    path = Path(storage.path(key))
    directory = path.parent
    if not directory.is_dir():
        mode = storage.directory_permissions_mode
        if mode is None:
            directory.mkdir(parents=True, exist_ok=True)
        else:
            # As FileSystemStorage does: the mode applies despite the umask.
            old = os.umask(0o777 & ~mode)
            try:
                directory.mkdir(mode=mode, parents=True, exist_ok=True)
            finally:
                os.umask(old)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        # mkstemp makes the file private; the storage's mode is what its
        # other files get (FILE_UPLOAD_PERMISSIONS, 0o644 by default).
        os.chmod(temporary, storage.file_permissions_mode or 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def storage_warm() -> None:
    """Build the process's S3 client now rather than on its first request: loading
    botocore's models and endpoint rules is hundreds of milliseconds of CPU.
    Signing a URL is local (no request), so this works while S3 is still down."""
    if is_s3():
        params = {"Bucket": default_storage.bucket_name, "Key": "warm"}
        default_storage.client.generate_presigned_url("put_object", Params=params, ExpiresIn=60)


def storage_copy_to_temp(key: str, *, suffix: str = "", directory: str | None = None) -> Path:
    """Stream an object into a local temporary file (never whole into memory)."""
    fd, path = tempfile.mkstemp(suffix=suffix, dir=directory)
    with open(fd, "wb") as out, default_storage.open(key, "rb") as src:
        shutil.copyfileobj(src, out, COPY_BUFFER)
    return Path(path)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(COPY_BUFFER):
            digest.update(block)
    return digest.hexdigest()


def signed_url(key: str, *, expires: int = 600, filename: str = "") -> str:
    """A URL that reads one object for ``expires`` seconds, then stops working.

    ``filename``: the response asks the browser to save the object under this
    name (``Content-Disposition: attachment``); without it a browser names a
    download after the URL's last segment, which for a signed URL means nothing.
    """
    if not key:
        return ""
    if is_s3():
        parameters = (
            {"ResponseContentDisposition": content_disposition_header(True, filename)}
            if filename
            else None
        )
        return default_storage.url(key, parameters=parameters, expire=expires)
    payload = {"k": key, "e": expires, **({"d": filename} if filename else {})}
    token = signing.dumps(payload, salt=SIGNED_MEDIA_SALT, compress=True)
    return reverse("signed-media", args=[token])


def signed_media_grant(token: str) -> tuple[str, str] | None:
    """(key, download file name or "") a filesystem signed URL grants, or None if
    forged, expired or malformed."""
    try:
        unsigned = signing.loads(token, salt=SIGNED_MEDIA_SALT, max_age=3600 * 24)
        data = signing.loads(token, salt=SIGNED_MEDIA_SALT, max_age=unsigned["e"])
    except (signing.BadSignature, KeyError, TypeError):
        return None
    # Only this module signs media tokens, but a token's content is still
    # checked: a key that is not a non-empty string is not one it issued.
    key = data.get("k")
    if not isinstance(key, str) or not key:
        return None
    filename = data.get("d", "")
    return key, filename if isinstance(filename, str) else ""


def signed_media_key(token: str) -> str | None:
    """The key a filesystem signed URL grants, or None if forged, expired or malformed."""
    grant = signed_media_grant(token)
    return grant[0] if grant else None


def storage_bucket_ensure() -> bool:
    """Create the S3 bucket if it does not exist; True if it was created.

    Idempotent: docker compose runs it (``manage.py ensure_bucket``) before
    every start. A bucket is private unless a policy says otherwise, and
    recordings never get one.
    """
    from botocore.exceptions import ClientError

    client = default_storage.connection.meta.client
    bucket = default_storage.bucket_name
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    region = client.meta.region_name
    options = {}
    if region and region != "us-east-1":  # us-east-1 refuses its own name here
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(Bucket=bucket, **options)
    return True
