"""The researcher's pages: the exports page (a form, live progress, downloads)
and the request for researcher access.

The exports page is a shell; the form posts JSON to the API and the progress
bars poll it (static/js/exports.js), so the page and API clients share one code path.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from contributors.models import AgeRange, Gender
from exports import selectors, services
from exports.forms import AccessRequestForm
from exports.models import AudioFormat, ExportFormat
from exports.processing import SAMPLE_RATES
from recordings.models import ChunkStatus, Language
from shrutik.permissions import RESEARCHER, user_has_role


@login_required
@require_GET
def export_page(request):
    if not user_has_role(request.user, RESEARCHER):
        # Not a bare 403: say what the page is for and how to get access.
        context = {"access": selectors.access_request_latest(user=request.user)}
        return render(request, "exports/no_access.html", context, status=403)
    context = {
        "languages": Language.objects.order_by("code"),
        "formats": ExportFormat.choices,
        "audio_formats": AudioFormat.choices,
        "sample_rates": SAMPLE_RATES,
        "statuses": ChunkStatus.choices,
        "genders": Gender.choices,
        "age_ranges": AgeRange.choices,
        "bases": selectors.export_delta_bases(user=request.user),
    }
    return render(request, "exports/index.html", context)


@require_http_methods(["GET", "POST"])
def access_page(request):
    """Ask for researcher access: open to anyone to read, signed in to send."""
    user = request.user
    context = {
        "terms_version": settings.DATA_TERMS_VERSION,
        "licence": settings.EXPORT_LICENCE,
        "is_researcher": user_has_role(user, RESEARCHER),
        "access": selectors.access_request_latest(user=user) if user.is_authenticated else None,
    }
    if not user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        return render(request, "exports/access.html", context)
    initial = {"name": user.display_name or user.get_full_name(), "email": user.email}
    form = AccessRequestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.access_request_create(
                user=user,
                name=form.cleaned_data["name"],
                institution=form.cleaned_data["institution"],
                email=form.cleaned_data["email"],
                purpose=form.cleaned_data["purpose"],
                terms_version=settings.DATA_TERMS_VERSION,
                language=get_language() or "",
                site_url=request.build_absolute_uri("/"),
            )
        except services.AccessRequestError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Thank you: an admin will look at your request and answer by e-mail."),
            )
        return redirect("research-access")
    context["form"] = form
    status = 400 if request.method == "POST" else 200
    return render(request, "exports/access.html", context, status=status)
