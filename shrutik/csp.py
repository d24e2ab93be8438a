"""Content-Security-Policy: django-csp's middleware plus the origins known only at run time.

The static policy lives in settings (``CONTENT_SECURITY_POLICY``). Two sources
cannot be written there: the object store that serves signed audio URLs (its
endpoint is part of the storage configuration, which tests and operators may
change), and the WebSocket origin of live recording, which is this site's own
host under ``ws:``/``wss:`` — older browsers do not let ``'self'`` cover those.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost


def storage_media_origins() -> list[str]:
    """Origins that signed audio URLs point at, derived from the default storage."""
    options = settings.STORAGES["default"].get("OPTIONS", {})
    origins = []
    if options.get("custom_domain"):
        origins.append(f"https://{options['custom_domain']}")
    # Signed URLs name the public endpoint when there is one (shrutik/s3.py).
    endpoint = options.get("public_endpoint_url") or options.get("endpoint_url")
    if endpoint:
        parts = urlsplit(endpoint)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    elif options.get("bucket_name"):
        # AWS itself: virtual-hosted or path-style URLs under amazonaws.com.
        origins.append("https://*.amazonaws.com")
    return origins


class ShrutikCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if parts.config is not None:
            # A view that sets its whole policy (csp decorator) gets exactly that.
            return parts
        extra: dict[str, list[str]] = {}
        media = storage_media_origins()
        if media:
            extra["media-src"] = media
        try:
            host = request.get_host()
        except DisallowedHost:
            host = ""
        if host:
            extra["connect-src"] = [f"wss://{host}"] + (
                [] if request.is_secure() else [f"ws://{host}"]
            )
        for directive, sources in (parts.update or {}).items():
            extra[directive] = [*extra.get(directive, []), *sources]
        parts.update = extra
        return parts
