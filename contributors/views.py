"""Web pages for accounts (sign up, profile, erase; login, logout and password
reset are Django's) and the pages every contributor reads: the contributor
agreement, the guidelines and the FAQ. The home page is the dashboard app's:
it shows figures from every app."""

import logging
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from contributors import services
from contributors.forms import (
    ConsentForm,
    EraseAccountForm,
    PasswordResetForm,
    ProfileForm,
    SignUpForm,
)
from contributors.lockout import client_ip

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def signup(request):
    # Where to go once signed up: a campaign's join link sends people here and
    # expects them back (only this site's own paths are followed).
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "profile")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except services.UsernameTaken:
            # Registered by a concurrent request after the form's check.
            form.add_error("username", _("This username is taken."))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to Shrutik! Your account is ready."))
            return redirect(next_url or "profile")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset-by-e-mail, with a limit on how often one address or client
    may ask. Over the limit the page answers as usual but sends nothing, so the
    form never tells whether an address has an account."""

    form_class = PasswordResetForm

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        if not services.password_reset_allowed(email=email, client=client_ip(self.request)):
            logger.warning("password reset e-mail not sent: over the hourly limit")
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    def get_context_data(self, **kwargs):
        hours = max(1, round(settings.PASSWORD_RESET_TIMEOUT / 3600))
        return {**super().get_context_data(**kwargs), "reset_hours": hours}


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_update_profile(user=request.user, **form.cleaned_data)
        messages.success(request, _("Your profile has been saved."))
        return redirect("profile")
    return render(request, "contributors/profile.html", _profile_context(request, form=form))


def _profile_context(request, **overrides) -> dict:
    user = request.user
    return {
        "form": ProfileForm(instance=user),
        "erase_form": EraseAccountForm(user=user),
        "consent_version": settings.CONSENT_VERSION,
        "consent_current": user.has_consented and user.consent_version == settings.CONSENT_VERSION,
        **overrides,
    }


@login_required
@require_http_methods(["POST"])
def consent(request):
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return redirect("profile")
    if form.cleaned_data["action"] == ConsentForm.GIVE:
        services.user_give_consent(user=request.user, version=settings.CONSENT_VERSION)
        messages.success(request, _("Thank you: you accepted the contributor agreement."))
    else:
        services.user_withdraw_consent(user=request.user)
        messages.success(
            request,
            _("Your consent is withdrawn: you can no longer contribute until you accept again."),
        )
    return redirect("profile")


@login_required
@require_http_methods(["POST"])
def erase_account(request):
    form = EraseAccountForm(request.POST, user=request.user)
    if not form.is_valid():
        context = _profile_context(request, erase_form=form)
        return render(request, "contributors/profile.html", context, status=400)
    services.user_erase(user=request.user, delete_recordings=form.cleaned_data["delete_recordings"])
    logout(request)
    messages.success(request, _("Your account has been erased."))
    return redirect("home")


# A version names a file: nothing but what CONSENT_VERSION values look like.
_VERSION = re.compile(r"^[\w.-]{1,32}$")


def agreement_template(version: str) -> str:
    return f"contributors/agreement/{version}.html"


@require_http_methods(["GET"])
def agreement(request, version: str | None = None):
    """The contributor agreement: the current version, or an earlier one by name
    (what a contributor accepted before it changed)."""
    current = settings.CONSENT_VERSION
    version = version or current
    if not _VERSION.match(version):
        raise Http404
    try:
        get_template(agreement_template(version))
    except TemplateDoesNotExist:
        raise Http404 from None
    context = {
        "version": version,
        "current_version": current,
        "is_current": version == current,
        "text_template": agreement_template(version),
    }
    return render(request, "contributors/agreement.html", context)


@require_http_methods(["GET"])
def guidelines(request):
    return render(request, "contributors/guidelines.html")


@require_http_methods(["GET"])
def faq(request):
    return render(request, "contributors/faq.html")
