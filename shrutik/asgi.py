"""ASGI entry point: Django for HTTP, Channels for the live recording and campaign sockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shrutik.settings")

# Django is set up before anything imports models (the consumers do).
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from campaigns.routing import websocket_urlpatterns as campaign_sockets  # noqa: E402
from live.origin import OriginValidator  # noqa: E402
from live.routing import websocket_urlpatterns as live_sockets  # noqa: E402
from shrutik.lifespan import lifespan  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "lifespan": lifespan,
        # Browsers send the page's Origin: checking the whole origin (as Django's
        # CSRF check does) stops other sites from opening a socket with a
        # reader's session cookie.
        "websocket": OriginValidator(
            AuthMiddlewareStack(URLRouter(live_sockets + campaign_sockets))
        ),
    }
)
