"""The researcher's exports page: a form, live progress, downloads.

The page is a shell; the form posts JSON to the API and the progress bars
poll it (static/js/exports.js), so the page and API clients share one code path.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from contributors.models import AgeRange, Gender
from exports.models import AudioFormat, ExportFormat
from exports.processing import SAMPLE_RATES
from recordings.models import ChunkStatus, Language
from shrutik.permissions import RESEARCHER, user_has_role


@login_required
@require_GET
def export_page(request):
    if not user_has_role(request.user, RESEARCHER):
        raise PermissionDenied(_("Only researchers can request dataset exports."))
    context = {
        "languages": Language.objects.order_by("code"),
        "formats": ExportFormat.choices,
        "audio_formats": AudioFormat.choices,
        "sample_rates": SAMPLE_RATES,
        "statuses": ChunkStatus.choices,
        "genders": Gender.choices,
        "age_ranges": AgeRange.choices,
    }
    return render(request, "exports/index.html", context)
