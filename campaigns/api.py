"""Campaign API: organisers create and run campaigns, participants join with a code."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from campaigns import codes, selectors, services
from campaigns.models import Campaign, CampaignStatus
from campaigns.qr import qr_svg
from recordings.models import Language, Script
from shrutik.api import LanguageCodeField, StrictInput
from shrutik.permissions import HasConsented, IsOrganiser, user_may_organise


class CampaignInput(StrictInput):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    language = LanguageCodeField()
    scripts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=10_000,
        help_text="Scripts to read first; empty for the script source, or all active scripts.",
    )
    script_source = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default="",
        help_text="Read scripts imported with this source label first (when no selection).",
    )  # fmt: skip
    goal_recorded_minutes = serializers.IntegerField(min_value=1, max_value=1_000_000)
    goal_validated_minutes = serializers.IntegerField(
        min_value=0, max_value=1_000_000, required=False, default=0
    )
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField()
    show_names = serializers.BooleanField(
        required=False, default=True, help_text="Participants may opt in to show their name."
    )

    def validate_language(self, code: str) -> Language:
        language = Language.objects.filter(code=code, active=True).first()
        if language is None:
            raise serializers.ValidationError(
                _("No active language with code '{code}'.").format(code=code)
            )
        return language

    def validate(self, attrs: dict) -> dict:
        language = attrs.get("language") or getattr(self.instance, "language", None)
        wanted = attrs.get("scripts")
        if wanted:
            found = list(Script.objects.filter(pk__in=wanted, language=language, active=True))
            if len(found) != len(set(wanted)):
                raise serializers.ValidationError(
                    {"scripts": [_("Some scripts are not active scripts of this language.")]}
                )
            attrs["scripts"] = found
        return attrs


class CampaignPatchInput(CampaignInput):
    """Any of the creation fields but the language; what is left out stays."""

    def get_fields(self):
        fields = super().get_fields()
        del fields["language"]
        for field in fields.values():
            field.required = False
            field.default = serializers.empty
        return fields


class CampaignOutput(serializers.ModelSerializer):
    language = serializers.CharField(source="language.code")
    organiser = serializers.CharField(source="organiser.__str__")
    join_code = serializers.SerializerMethodField()
    join_url = serializers.SerializerMethodField()
    qr_url = serializers.SerializerMethodField()
    scripts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "language",
            "scripts",
            "script_source",
            "goal_recorded_minutes",
            "goal_validated_minutes",
            "starts_at",
            "ends_at",
            "status",
            "show_names",
            "organiser",
            "join_code",
            "join_url",
            "qr_url",
            "created_at",
            "closed_at",
        ]

    def get_join_code(self, campaign: Campaign) -> str:
        return codes.code_display(campaign.join_code)

    def get_join_url(self, campaign: Campaign) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("campaign-join-link", args=[campaign.join_code])
        )

    def get_qr_url(self, campaign: Campaign) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("api-campaign-qr", args=[campaign.pk])
        )


class ProgressOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CampaignStatus.choices)
    version = serializers.IntegerField(help_text="Grows with every change.")
    recorded_minutes = serializers.FloatField()
    validated_minutes = serializers.FloatField()
    goal_recorded_minutes = serializers.IntegerField()
    goal_validated_minutes = serializers.IntegerField()
    recorded_percent = serializers.FloatField()
    validated_percent = serializers.FloatField()
    participants = serializers.IntegerField()
    recordings = inline_serializer(
        "CampaignRecordingCounts",
        {
            "waiting": serializers.IntegerField(),
            "chunked": serializers.IntegerField(),
            "rejected": serializers.IntegerField(),
        },
    )
    chunks_validated = serializers.IntegerField()
    top_participants = inline_serializer(
        "CampaignTopParticipant",
        {
            "name": serializers.CharField(help_text='Opted-in name, else "participant N".'),
            "minutes": serializers.FloatField(),
            "recordings": serializers.IntegerField(),
        },
        many=True,
    )
    events = inline_serializer(
        "CampaignEvent",
        {
            "id": serializers.IntegerField(),
            "kind": serializers.CharField(),
            "text": serializers.CharField(),
            "who": serializers.CharField(),
            "seconds": serializers.FloatField(),
            "at": serializers.DateTimeField(),
        },
        many=True,
    )


class CampaignDetailOutput(CampaignOutput):
    organises = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta(CampaignOutput.Meta):
        fields = [*CampaignOutput.Meta.fields, "organises", "progress"]

    def get_organises(self, campaign: Campaign) -> bool:
        return self.context["organises"]

    @extend_schema_field(ProgressOutput)
    def get_progress(self, campaign: Campaign) -> dict:
        return selectors.campaign_progress(campaign=campaign)


def _organised(request, pk) -> Campaign:
    """A campaign the requester runs; 404 for anyone else's (not even its existence)."""
    return get_object_or_404(selectors.campaign_list_organised(user=request.user), pk=pk)


class CampaignListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: CampaignOutput(many=True)},
        summary="Campaigns I run (all of them for admins), else those I take part in",
    )
    def get(self, request):
        if user_may_organise(request.user):
            campaigns = selectors.campaign_list_organised(user=request.user)
        else:
            campaigns = selectors.campaign_list_joined(user=request.user)
        campaigns = campaigns.prefetch_related("scripts")[:200]
        return Response(CampaignOutput(campaigns, many=True, context={"request": request}).data)

    @extend_schema(
        request=CampaignInput,
        responses={201: CampaignOutput},
        summary="Create a campaign (organisers); the answer carries its join code",
    )
    def post(self, request):
        if not user_may_organise(request.user):
            self.permission_denied(request, message=IsOrganiser.message)
        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.setdefault("starts_at", timezone.now())
        campaign = services.campaign_create(organiser=request.user, **fields)
        return Response(
            CampaignOutput(campaign, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class CampaignDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: CampaignDetailOutput},
        summary="A campaign and its progress (its organiser and participants)",
    )
    def get(self, request, pk):
        campaign, organises = selectors.campaign_visible(user=request.user, pk=pk)
        if campaign is None:
            return Response({"detail": _("No such campaign.")}, status=status.HTTP_404_NOT_FOUND)
        context = {"request": request, "organises": organises}
        return Response(CampaignDetailOutput(campaign, context=context).data)

    @extend_schema(
        request=CampaignPatchInput,
        responses={200: CampaignOutput, 409: OpenApiResponse(description="The campaign is closed")},
        summary="Edit a campaign I run",
    )
    def patch(self, request, pk):
        campaign = _organised(request, pk)
        data = CampaignPatchInput(data=request.data, instance=campaign)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_update(campaign=campaign, **data.validated_data)
        return Response(CampaignOutput(campaign, context={"request": request}).data)


class CampaignStatusApi(APIView):
    """``pause``, ``resume`` or ``close`` (for good) a campaign I run."""

    permission_classes = [IsAuthenticated]
    action = "pause"

    @extend_schema(
        request=None,
        responses={
            200: CampaignOutput,
            409: OpenApiResponse(description="Not possible from the campaign's status"),
        },
    )
    def post(self, request, pk):
        campaign = services.campaign_set_status(
            campaign=_organised(request, pk), status=services.STATUS_ACTIONS[self.action]
        )
        return Response(CampaignOutput(campaign, context={"request": request}).data)


class JoinInput(StrictInput):
    code = serializers.CharField(
        max_length=32, help_text="The join code, any case, dashes allowed."
    )
    show_name = serializers.BooleanField(
        required=False, default=False, help_text="Show my name on the campaign's pages."
    )


class ParticipationOutput(serializers.Serializer):
    campaign = CampaignOutput()
    number = serializers.IntegerField()
    show_name = serializers.BooleanField()


class CampaignJoinApi(APIView):
    permission_classes = [IsAuthenticated, HasConsented]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "campaign_join"

    @extend_schema(
        request=JoinInput,
        responses={
            200: ParticipationOutput,
            404: OpenApiResponse(description="No campaign has this code"),
            409: OpenApiResponse(description="The campaign has ended"),
        },
        summary="Join a campaign with its code (one campaign at a time)",
    )
    def post(self, request):
        data = JoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        participation = services.campaign_join(user=request.user, **data.validated_data)
        return Response(ParticipationOutput(participation, context={"request": request}).data)


class CampaignLeaveApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, summary="Leave a campaign")
    def post(self, request, pk):
        campaign = get_object_or_404(Campaign, pk=pk)
        services.campaign_leave(user=request.user, campaign=campaign)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignQrApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={(200, "image/svg+xml"): OpenApiTypes.BINARY},
        summary="The join link as a QR code (SVG), for the organiser's screens",
    )
    def get(self, request, pk):
        campaign, _organises = selectors.campaign_visible(user=request.user, pk=pk)
        if campaign is None:
            return Response({"detail": _("No such campaign.")}, status=status.HTTP_404_NOT_FOUND)
        url = request.build_absolute_uri(reverse("campaign-join-link", args=[campaign.join_code]))
        response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        response["Cache-Control"] = "private, max-age=3600"
        return response
