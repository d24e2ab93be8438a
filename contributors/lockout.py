"""How django-axes sees clients and answers when a login is locked out."""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shrutik.numbers import localize_digits


def client_ip(request: HttpRequest) -> str | None:
    """The address the nearest trusted proxy saw, else the socket's peer.

    Each proxy appends the address it received the request from to
    X-Forwarded-For, so the entry ``TRUSTED_PROXY_COUNT`` places from the right
    was written by our own proxy; anything further left is the client's claim.
    None when that is not an IP address (a forged header reaching the app
    without the proxy, or a peer that is not on IP): it is stored in an IP
    column, where anything else would fail the login with a server error.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return _address(remote)
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    if len(hops) >= count:
        return _address(hops[-count])
    return _address(hops[0] if hops else remote)


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _cooloff_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    minutes = _cooloff_minutes()
    wait = localize_digits(
        ngettext("Try again in %(minutes)d minute.", "Try again in %(minutes)d minutes.", minutes)
        % {"minutes": minutes}
    )
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "detail": _("Too many failed logins for this account from your address.")
                + " "
                + wait
            },
            status=429,
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"minutes": minutes, "wait": wait},
            status=429,
        )
    response["Retry-After"] = str(minutes * 60)
    return response
