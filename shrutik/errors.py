"""Site-wide error handlers: JSON under /api/, styled, translated pages elsewhere.

The pages are templates/400.html, 403.html, 404.html and 500.html; 500.html
stands alone (no base template, no URL lookups), because whatever broke the
request may break a richer page too.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults

from shrutik.api import json_bad_request, json_not_found, json_server_error


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception):
    if _is_api(request):
        return json_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return JsonResponse(
            {"detail": _("You do not have permission to perform this action.")}, status=403
        )
    # The view's own reason ("Only researchers can ..."), when it gave one.
    reason = str(exception) if exception is not None else ""
    return render(request, "403.html", {"reason": reason}, status=403)


def csrf_failure(request, reason: str = ""):
    """A form sent from a page that is too old (or without cookies): say what to do."""
    if _is_api(request):
        return JsonResponse(
            {"detail": _("CSRF check failed: send the X-CSRFToken header with the session.")},
            status=403,
        )
    return render(request, "403.html", {"csrf": True}, status=403)


def not_found(request, exception):
    if _is_api(request):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return json_server_error(request)
    return defaults.server_error(request)
