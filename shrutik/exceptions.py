"""The one error a service raises for a request it refuses.

Services know nothing of HTTP, but some refusals are the client's to fix (an
empty upload, a lease that expired): they carry the status the API answers
with and a message saying what to fix. ``shrutik.api.exception_handler`` turns
one into ``{"detail": ...}``; other callers (the live socket) read it as they
need.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ApplicationError(Exception):
    status_code: int
    detail: str

    def __str__(self) -> str:
        return self.detail
