"""The ASGI lifespan protocol, answered: the app has nothing to start or stop,
but a server that gets no answer logs that the protocol is unsupported."""

from __future__ import annotations


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
