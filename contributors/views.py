"""Web pages for accounts: sign up, profile, erase (login/logout are Django's)."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from contributors import services
from contributors.forms import EraseAccountForm, ProfileForm, SignUpForm


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
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
    return render(
        request,
        "contributors/profile.html",
        {"form": form, "erase_form": EraseAccountForm(user=request.user)},
    )


@login_required
@require_http_methods(["POST"])
def erase_account(request):
    form = EraseAccountForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(
            request,
            "contributors/profile.html",
            {"form": ProfileForm(instance=request.user), "erase_form": form},
            status=400,
        )
    services.user_erase(user=request.user, delete_recordings=form.cleaned_data["delete_recordings"])
    logout(request)
    messages.success(request, _("Your account has been erased."))
    return redirect("home")


def home(request):
    return render(request, "home.html")
