"""Streaming responses that stay streamed under ASGI as well as WSGI.

Django sends a streaming response whose iterator does not suit the server (a
synchronous one under ASGI, which is how the web processes run) by first
reading all of it into a list: a dataset archive of gigabytes, or a long
recording, would be held whole in the web process's memory. Under ASGI the
pieces are pulled from the synchronous iterator one at a time instead, on the
thread Django runs synchronous code on (the iterators read the database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

FILE_PIECE_BYTES = 256 * 1024
_END = object()


def _next_piece(iterator):
    return next(iterator, _END)


async def _pull(iterable: Iterable[bytes]) -> AsyncIterator[bytes]:
    iterator = iter(iterable)
    next_piece = sync_to_async(_next_piece)
    try:
        while (piece := await next_piece(iterator)) is not _END:
            yield piece
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            await sync_to_async(close)()


def streaming_response(request, iterable: Iterable[bytes], **kwargs) -> StreamingHttpResponse:
    """A StreamingHttpResponse over ``iterable`` that the server sends piece by piece."""
    django_request = getattr(request, "_request", request)  # DRF wraps Django's request
    if isinstance(django_request, ASGIRequest):
        iterable = _pull(iterable)
    return StreamingHttpResponse(iterable, **kwargs)


class FilePieces:
    """An open file's contents in pieces.

    An iterator with ``close`` rather than a generator: a response that is never
    sent (a client gone before the first byte) still closes the file when the
    response is closed, which a generator that never started would not.
    """

    def __init__(self, fh, piece_bytes: int = FILE_PIECE_BYTES) -> None:
        self.fh = fh
        self.piece_bytes = piece_bytes

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        piece = self.fh.read(self.piece_bytes)
        if not piece:
            self.close()
            raise StopIteration
        return piece

    def close(self) -> None:
        self.fh.close()
