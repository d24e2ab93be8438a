import mimetypes

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from shrutik.health import run_checks, run_readiness
from shrutik.storage import signed_media_grant
from shrutik.streaming import FilePieces, streaming_response


def _health_response(healthy: bool, checks: dict) -> JsonResponse:
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@never_cache
@require_GET
def healthz(request):
    return _health_response(*run_checks())


@never_cache
@require_GET
def healthz_live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz_ready(request):
    return _health_response(*run_readiness())


class HealthMiddleware:
    """Answers the health endpoints before the HTTPS redirect and the host check.

    Probes come over plain HTTP inside the network, addressed to the pod's or
    container's IP (Kubernetes' kubelet, load balancers), which ALLOWED_HOSTS
    does not list and should not. The answers hold nothing derived from the
    request. After the request-id middleware, so probes get ids and access
    lines like any request.
    """

    VIEWS = {"/healthz": healthz, "/healthz/live": healthz_live, "/healthz/ready": healthz_ready}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.VIEWS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)


@require_GET
def signed_media(request, token: str):
    """Serve one stored object named by a signed, expiring token (filesystem storage).

    The token is the authorisation: it was issued to someone allowed to hear the
    audio, names exactly one key and expires, like an S3 pre-signed URL.
    """
    grant = signed_media_grant(token)
    if grant is None:
        return JsonResponse({"detail": "This link is invalid or has expired."}, status=403)
    key, filename = grant
    try:
        fh = default_storage.open(key, "rb")
    except (FileNotFoundError, SuspiciousFileOperation):
        # A key outside the storage's root names no object it holds.
        return JsonResponse({"detail": "Not found."}, status=404)
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    response = streaming_response(request, FilePieces(fh), content_type=content_type)
    response["Content-Length"] = str(fh.size)
    response["Cache-Control"] = "private, max-age=300"
    if filename:
        response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_GET
def favicon(request):
    return redirect(static("favicon.ico"), permanent=True)
