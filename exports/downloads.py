"""Links to an export's files: short-lived, and saved under the file's own name."""

from __future__ import annotations

import posixpath

from django.conf import settings

from exports.models import Export
from shrutik.storage import signed_url


def export_file_url(export: Export, path: str) -> str:
    """A signed link to one file of ``export`` (``path`` relative to its root).

    The browser saves it as the file's name (``validated.tsv``, not
    ``download``); files in folders keep only their last part, as browsers
    refuse slashes in a saved name.
    """
    return signed_url(
        export.prefix + path,
        expires=settings.EXPORT_DOWNLOAD_URL_SECONDS,
        filename=posixpath.basename(path),
    )
