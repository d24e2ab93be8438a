"""Campaign pages: the organiser's page and wall view, joining, the QR code.

The pages render the current progress on the server and static/js/campaign.js
keeps it current over ``/ws/campaigns/<id>/``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.throttling import ScopedRateThrottle

from campaigns import codes, selectors, services
from campaigns.forms import CampaignForm, JoinForm
from campaigns.models import Campaign, CampaignStatus
from shrutik.exceptions import ApplicationError
from shrutik.permissions import user_may_organise


def _visible(request, pk) -> tuple[Campaign, bool]:
    campaign, organises = selectors.campaign_visible(user=request.user, pk=pk)
    if campaign is None:
        raise Http404
    return campaign, organises


def _context(request, campaign: Campaign, organises: bool) -> dict:
    return {
        "campaign": campaign,
        "organises": organises,
        "progress": selectors.campaign_progress(campaign=campaign),
        "join_code": codes.code_display(campaign.join_code),
        "join_url": request.build_absolute_uri(
            reverse("campaign-join-link", args=[campaign.join_code])
        ),
        "closed": campaign.status == CampaignStatus.CLOSED,
        "statuses": CampaignStatus.choices,
    }


@login_required
@require_GET
def campaign_list(request):
    organised = (
        selectors.campaign_list_organised(user=request.user)[:100]
        if user_may_organise(request.user)
        else None
    )
    return render(
        request,
        "campaigns/list.html",
        {
            "organised": organised,
            "participation": selectors.participation_current(user=request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request):
    if not user_may_organise(request.user):
        raise Http404
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_create(organiser=request.user, **form.cleaned_data)
        return redirect("campaign", pk=campaign.pk)
    return render(request, "campaigns/new.html", {"form": form})


def _join_throttled(request) -> bool:
    """The page's joins count against the API's limit: one budget per client."""

    class View:
        throttle_scope = "campaign_join"

    return not ScopedRateThrottle().allow_request(request, View())


@require_http_methods(["GET", "POST"])
def campaign_join(request, code: str = ""):
    """The join form; ``/c/<code>`` fills it in. Visitors without an account
    sign up (agreeing to the contributor agreement) and come back here."""
    form = JoinForm(
        request.POST or None, initial={"code": codes.code_display(code) if code else ""}
    )
    campaign = None
    if code:
        normalised = codes.code_normalise(code)
        if codes.code_is_wellformed(normalised):
            campaign = Campaign.objects.filter(join_code=normalised).first()
    if request.method == "POST" and request.user.is_authenticated and form.is_valid():
        if not request.user.has_consented:
            form.add_error(None, _("Accept the contributor agreement on your profile first."))
        elif _join_throttled(request):
            form.add_error(None, _("Too many tries; wait a minute and try again."))
        else:
            try:
                participation = services.campaign_join(user=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error("code", exc.detail)
            else:
                messages.success(
                    request,
                    _("You joined {name}. Your readings now count for it.").format(
                        name=participation.campaign.name
                    ),
                )
                return redirect("campaign", pk=participation.campaign_id)
    return render(
        request,
        "campaigns/join.html",
        {"form": form, "campaign": campaign, "here": request.get_full_path()},
        status=400 if form.errors else 200,
    )


def campaign_join_link(request, code: str):
    return campaign_join(request, code=code)


@login_required
@require_GET
def campaign_page(request, pk):
    campaign, organises = _visible(request, pk)
    return render(request, "campaigns/campaign.html", _context(request, campaign, organises))


@login_required
@require_GET
def campaign_wall(request, pk):
    campaign, organises = _visible(request, pk)
    return render(request, "campaigns/wall.html", _context(request, campaign, organises))


@login_required
@require_http_methods(["POST"])
def campaign_action(request, pk, action: str):
    """The organiser's pause/resume/close buttons, and a participant's leave."""
    if action == "leave":
        campaign, _organises = _visible(request, pk)
        try:
            services.campaign_leave(user=request.user, campaign=campaign)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        return redirect("dashboard")
    campaign = selectors.campaign_list_organised(user=request.user).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    try:
        services.campaign_set_status(campaign=campaign, status=services.STATUS_ACTIONS[action])
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    return redirect("campaign", pk=pk)
