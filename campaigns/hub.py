"""Fan-out of a campaign's progress to the sockets one web process holds.

How a change reaches every socket, on both shapes: whoever makes the change
(a request in any web process, a Celery worker) writes a CampaignEvent row
after committing it. Each web process runs one follower per campaign that has
sockets there; every ``CAMPAIGN_PUSH_SECONDS`` it reads the newest event id
(one indexed query) and, when it moved, computes the progress once (per
interface language) and sends the same text to each of its sockets.

So a burst of events costs one computation per tick and process, whatever
the number of watchers, and a socket gets at most one message per tick: the
coalescing is the tick. The database is the only thing the processes share,
which is what the embedded shape has (SQLite, a filesystem broker, one web
process and a worker process: an in-memory channel layer does not cross
processes, and a worker has no event loop to hold sockets). A socket that
misses a tick misses nothing: every message is the whole current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import translation

from campaigns.models import Campaign
from campaigns.selectors import campaign_progress, latest_event_id

logger = logging.getLogger(__name__)


def progress_message(campaign_id, language: str) -> str | None:
    """The ``progress`` message as sent, in ``language``; None once the campaign is gone."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return None
    with translation.override(language):
        progress = campaign_progress(campaign=campaign)
    return json.dumps({"type": "progress", **progress}, ensure_ascii=False)


def db(func):
    return database_sync_to_async(func, thread_sensitive=False)


class Hub:
    """The watchers of each campaign in this process (one hub per event loop)."""

    def __init__(self) -> None:
        self.watchers: dict[int, set] = {}
        self.followers: dict[int, asyncio.Task] = {}

    def watch(self, campaign_id: int, watcher) -> None:
        """``watcher`` has ``language`` and an async ``push(text)``."""
        self.watchers.setdefault(campaign_id, set()).add(watcher)
        follower = self.followers.get(campaign_id)
        if follower is None or follower.done():
            self.followers[campaign_id] = asyncio.create_task(self.follow(campaign_id))

    def unwatch(self, campaign_id: int, watcher) -> None:
        watchers = self.watchers.get(campaign_id)
        if watchers is None:
            return
        watchers.discard(watcher)
        if not watchers:
            del self.watchers[campaign_id]
            follower = self.followers.pop(campaign_id, None)
            if follower is not None:
                follower.cancel()

    async def follow(self, campaign_id: int) -> None:
        # A new watcher was sent the state when it connected: only what
        # happens after that is news.
        version = await db(latest_event_id)(campaign_id)
        while self.watchers.get(campaign_id):
            await asyncio.sleep(settings.CAMPAIGN_PUSH_SECONDS)
            try:
                latest = await db(latest_event_id)(campaign_id)
                if latest != version:
                    version = latest
                    await self.push(campaign_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database blip must not end the follower: the next tick retries.
                logger.exception("Campaign %s: progress push failed", campaign_id)

    async def push(self, campaign_id: int) -> None:
        watchers = list(self.watchers.get(campaign_id, ()))
        by_language: dict[str, list] = {}
        for watcher in watchers:
            by_language.setdefault(watcher.language, []).append(watcher)
        for language, group in by_language.items():
            text = await db(progress_message)(campaign_id, language)
            if text is None:
                return
            # Concurrently: one slow client must not hold up the others' updates.
            await asyncio.gather(*(w.push(text) for w in group), return_exceptions=True)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        # Loops of servers that have stopped (tests start several) are dropped.
        for old in [old for old in _hubs if old.is_closed()]:
            with contextlib.suppress(KeyError):
                del _hubs[old]
        _hubs[loop] = Hub()
    return _hubs[loop]
