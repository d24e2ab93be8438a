"""Exported speaker ids: keyed hashes of the contributor's pseudonymous speaker_id.

HMAC-SHA256 under ``EXPORT_SPEAKER_KEY``: the same speaker gets the same id in
every export, and without the server's key nobody can link an exported id to
a speaker_id (let alone to an account: speaker_id is itself random). User ids,
usernames and emails never enter the computation.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.conf import settings

SPEAKER_ID_CHARS = 32  # 128 bits: collision-free at any realistic speaker count


@cache
def _key(secret: str, explicit: str) -> bytes:
    if explicit:
        return explicit.encode()
    # Derived, not SECRET_KEY itself: a leaked export key must not be a session key.
    return hashlib.sha256(b"shrutik.exports.speaker-key:" + secret.encode()).digest()


def speaker_pseudonym(speaker_id: str) -> str:
    key = _key(settings.SECRET_KEY, settings.EXPORT_SPEAKER_KEY)
    return hmac.new(key, speaker_id.encode(), hashlib.sha256).hexdigest()[:SPEAKER_ID_CHARS]
