"""``/ws/campaigns/<id>/``: a campaign's progress, pushed as it changes.

Authentication and the Origin check are live recording's: the session cookie
(pages) or a JWT access token, as ``?token=`` or a first message
``{"type": "auth", "token": ...}``. The organiser, the admins and the
campaign's participants may watch; the messages hold aggregates only.
"""

from __future__ import annotations

import contextlib
import json
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import translation

from campaigns import selectors
from campaigns.hub import db, hub, progress_message
from live.auth import user_from_scope, user_from_token
from live.consumers import close_reason, language_from_scope
from live.services import NOT_FOUND, UNAUTHENTICATED

TEXT_MAX_BYTES = 4096


def parse(text: str | None) -> dict:
    """A client's JSON object, or {} for anything else (too long, not JSON)."""
    if not text or len(text) > TEXT_MAX_BYTES:
        return {}
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return message if isinstance(message, dict) else {}


class CampaignConsumer(AsyncWebsocketConsumer):
    user = None
    watching = False

    async def connect(self):
        self.language = language_from_scope(self.scope)
        translation.activate(self.language)
        self.campaign_id = self.scope["url_route"]["kwargs"]["campaign_id"]
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        token = (query.get("token") or [None])[0]
        user = user_from_scope(self.scope)
        if user is None and token:
            user = await db(user_from_token)(token)
            if user is None:
                return await self.refuse(UNAUTHENTICATED, "The access token is not valid.")
        if user is not None:
            await self.authenticated(user)

    async def authenticated(self, user):
        campaign, _organises = await db(selectors.campaign_visible)(user=user, pk=self.campaign_id)
        if campaign is None:
            return await self.refuse(
                NOT_FOUND, "No such campaign, or you neither run it nor take part in it."
            )
        self.user = user
        hub().watch(self.campaign_id, self)
        self.watching = True
        await self.push(await db(progress_message)(self.campaign_id, self.language))

    async def receive(self, text_data=None, bytes_data=None):
        message = parse(text_data)
        if self.user is not None:
            # Watchers have nothing to say but ping; anything else is ignored.
            if message.get("type") == "ping":
                await self.send(text_data=json.dumps({"type": "pong"}))
            return
        token = message.get("token")
        if not isinstance(token, str) or message.get("type") != "auth":
            return await self.refuse(
                UNAUTHENTICATED, 'Sign in: send {"type": "auth", "token": <access token>} first.'
            )
        user = await db(user_from_token)(token)
        if user is None:
            return await self.refuse(UNAUTHENTICATED, "The access token is not valid.")
        await self.authenticated(user)

    async def push(self, text: str | None) -> None:
        if text is not None:
            await self.send(text_data=text)

    async def refuse(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.send(text_data=json.dumps({"type": "error", "code": code, "detail": reason}))
        await self.close(code=code, reason=close_reason(reason))

    async def disconnect(self, code):
        if self.watching:
            hub().unwatch(self.campaign_id, self)
            self.watching = False
