import mimetypes

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from shrutik.health import run_checks
from shrutik.storage import signed_media_key
from shrutik.streaming import FilePieces, streaming_response


@never_cache
@require_GET
def healthz(request):
    healthy, checks = run_checks()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@require_GET
def signed_media(request, token: str):
    """Serve one stored object named by a signed, expiring token (filesystem storage).

    The token is the authorisation: it was issued to someone allowed to hear the
    audio, names exactly one key and expires, like an S3 pre-signed URL.
    """
    key = signed_media_key(token)
    if key is None:
        return JsonResponse({"detail": "This link is invalid or has expired."}, status=403)
    try:
        fh = default_storage.open(key, "rb")
    except (FileNotFoundError, SuspiciousFileOperation):
        # A key outside the storage's root names no object it holds.
        return JsonResponse({"detail": "Not found."}, status=404)
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    response = streaming_response(request, FilePieces(fh), content_type=content_type)
    response["Content-Length"] = str(fh.size)
    response["Cache-Control"] = "private, max-age=300"
    return response
