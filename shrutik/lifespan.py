"""The ASGI lifespan protocol, answered: each web process warms up at startup.

A process builds some things on first use that cost hundreds of milliseconds
of CPU, holding the GIL: the storage client (botocore loads its service
models) and the database pool. Paid on the first requests, that cost lands on
every request and live socket the process is serving at that moment; the
first seconds of many readers connecting at once waited seconds for their
feedback. The server answers no request before startup completes, so it is
paid here instead. A step that fails (storage or database not reachable yet)
is logged and left to the first request, as before.
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)


def warm_process() -> None:
    from django.db import connections

    from live.decoder import warm as decoder_warm
    from shrutik.storage import storage_warm

    def database_warm() -> None:
        # Opens the process's pool (its first connection): closing hands it back.
        connection = connections["default"]
        connection.ensure_connection()
        connection.close()

    for step in (storage_warm, decoder_warm, database_warm):
        try:
            step()
        except Exception:
            logger.warning("Warming up (%s) failed", step.__name__, exc_info=True)


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # In a thread: Django refuses database calls from an event loop.
            await asyncio.to_thread(warm_process)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
