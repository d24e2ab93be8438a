"""Which pages may open the live socket: the site's own, or a trusted origin.

A browser sends the session cookie with any page's WebSocket, so the Origin
decides, exactly as Django's CSRF check decides for a form post
(``CsrfViewMiddleware._origin_verified``): the whole origin (scheme, host and
port) must be the request's own, as ``request.is_secure()`` and
``request.get_host()`` give it behind the proxy, or one of
``CSRF_TRUSTED_ORIGINS``. Channels' ``AllowedHostsOriginValidator`` compares
the host alone, so ``http://127.0.0.1:9999`` passed for a site on
``http://127.0.0.1:8000``.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.utils.http import is_same_domain


class HandshakeRequest(ASGIRequest):
    """The WebSocket handshake as a Django request, so that the host and the
    scheme are read as for pages (ALLOWED_HOSTS, USE_X_FORWARDED_HOST,
    SECURE_PROXY_SSL_HEADER)."""

    def __init__(self, scope) -> None:
        # The handshake is a GET. Its query string plays no part here, and is
        # left out because Django decodes it strictly as UTF-8.
        super().__init__({**scope, "method": "GET", "query_string": b""}, io.BytesIO())

    def _get_scheme(self) -> str:
        # The page that opens wss:// was served over https://, and ws:// over http://.
        return "https" if self.scope.get("scheme") in ("wss", "https") else "http"


def origin_allowed(scope) -> bool:
    request = HandshakeRequest(scope)
    origin = request.META.get("HTTP_ORIGIN")
    if not origin:
        return False
    try:
        own = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    except DisallowedHost:
        own = None
    if origin == own:
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in {entry for entry in trusted if "*" not in entry}:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    # "https://*.example.com" admits example.com's subdomains, over that scheme only.
    wildcards = [urlsplit(entry) for entry in trusted if "*" in entry]
    return any(
        scheme == parsed.scheme and is_same_domain(parsed.netloc, netloc.lstrip("*"))
        for scheme, netloc, *_ in wildcards
    )


class OriginValidator:
    """ASGI middleware: a handshake from an origin not allowed gets HTTP 403."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
