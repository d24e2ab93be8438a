"""Streaming responses stay streamed under ASGI (the web processes) and WSGI."""

from __future__ import annotations

import asyncio
import io
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import AsyncRequestFactory, RequestFactory

from shrutik.streaming import FilePieces, streaming_response


def test_under_asgi_pieces_are_pulled_one_at_a_time():
    pulled = []

    def pieces():
        for n in range(3):
            pulled.append(n)
            yield bytes([n]) * 4

    response = streaming_response(AsyncRequestFactory().get("/"), pieces())
    assert response.is_async

    async def first_piece():
        iterator = aiter(response)
        piece = await anext(iterator)
        seen = list(pulled)
        rest = [part async for part in iterator]
        return piece, seen, rest

    def run_in_own_loop():
        # A thread of its own: other tests (Playwright) may leave an event loop
        # running in this one.
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Django warns when it buffers a whole iterator
            return asyncio.run(first_piece())

    with ThreadPoolExecutor(1) as pool:
        piece, seen, rest = pool.submit(run_in_own_loop).result()
    assert piece == b"\0" * 4 and seen == [0]  # nothing read ahead
    assert rest == [b"\1" * 4, b"\2" * 4]


def test_under_wsgi_the_iterator_is_used_as_it_is():
    response = streaming_response(RequestFactory().get("/"), iter([b"a", b"b"]))
    assert not response.is_async
    assert b"".join(response.streaming_content) == b"ab"


def test_FilePieces_reads_in_pieces_and_closes():
    fh = io.BytesIO(b"x" * 10)
    assert list(FilePieces(fh, piece_bytes=4)) == [b"xxxx", b"xxxx", b"xx"]
    assert fh.closed


@pytest.mark.django_db  # closing a response ends the request (request_finished)
def test_a_response_never_sent_still_closes_its_file():
    fh = io.BytesIO(b"x" * 10)
    response = streaming_response(RequestFactory().get("/"), FilePieces(fh))
    response.close()
    assert fh.closed
