"""Web pages for accounts: sign up, profile, erase (login/logout are Django's)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from contributors import services
from contributors.forms import ConsentForm, EraseAccountForm, ProfileForm, SignUpForm


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("profile")
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
            return redirect("profile")
    return render(request, "registration/signup.html", {"form": form})


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


def home(request):
    return render(request, "home.html")
