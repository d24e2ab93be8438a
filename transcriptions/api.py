"""Transcription API: lease tasks, submit, verify, skip and report."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from recordings.api import ActiveLanguageField
from shrutik.api import StrictInput
from shrutik.permissions import HasConsented
from shrutik.storage import signed_url
from transcriptions import services
from transcriptions.models import (
    Flag,
    SkipReason,
    TaskLease,
    TaskMode,
    Transcription,
    TranscriptionSource,
)


# The two outputs below are plain serializers, not ModelSerializers: they are
# rendered on every lease and submit, and building fields from the model on
# each instantiation cost more than the rest of the rendering.
class TaskOutput(serializers.Serializer):
    chunk = serializers.UUIDField(source="chunk_id")
    mode = serializers.ChoiceField(
        choices=TaskMode.choices,
        help_text="What to do with this chunk: `verify` (listen and answer whether it "
        "says `expected_text`) or `transcribe` (type what you hear).",
    )
    audio_url = serializers.SerializerMethodField()
    duration = serializers.FloatField(source="chunk.duration")
    expected_text = serializers.SerializerMethodField()
    lease_expires_at = serializers.DateTimeField(source="expires_at")

    def get_audio_url(self, lease: TaskLease) -> str:
        return signed_url(lease.chunk.audio.name, expires=settings.LEASE_SECONDS + 60)

    def get_expected_text(self, lease: TaskLease) -> str | None:
        # Transcribers type what they hear without seeing the script: showing it
        # would turn every transcription into a copy of the prior.
        return lease.chunk.expected_text if lease.mode == TaskMode.VERIFY else None


# What a task request may ask for: a lease's modes, or ``auto`` (each chunk's own).
TASK_REQUEST_MODES = [(services.AUTO, "Auto"), *TaskMode.choices]


class TaskNextInput(StrictInput):
    language = ActiveLanguageField()
    count = serializers.IntegerField(min_value=1, default=5)
    mode = serializers.ChoiceField(
        choices=TASK_REQUEST_MODES,
        default=services.AUTO,
        help_text="`auto` (the default): each chunk is served in the mode it asks for "
        "(each item's `mode`): `verify` while its script sentence is uncontradicted, "
        "else `transcribe`. `transcribe`: any chunk, typed. `verify`: only chunks "
        "asking for votes.",
    )

    def validate_count(self, value: int) -> int:
        if value > settings.LEASE_MAX_COUNT:
            raise serializers.ValidationError(
                _("At most {count} at a time.").format(count=settings.LEASE_MAX_COUNT)
            )
        return value


# Leased-chunk operations answer 409 when the lease is gone or the work is done.
LEASE_CONFLICT = OpenApiResponse(
    description="No live lease on this chunk, or it was already transcribed."
)


class TaskNextApi(APIView):
    permission_classes = [IsAuthenticated, HasConsented]

    @extend_schema(
        parameters=[TaskNextInput],
        responses={200: TaskOutput(many=True)},
        summary="Lease up to `count` chunks to transcribe or verify",
    )
    def get(self, request):
        params = TaskNextInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        leases = services.chunk_lease_next(user=request.user, **params.validated_data)
        return Response(TaskOutput(leases, many=True).data)


class TranscriptionInput(StrictInput):
    chunk = serializers.UUIDField()
    text = serializers.CharField(allow_blank=True, max_length=2000, trim_whitespace=True)
    flags = serializers.ListField(
        child=serializers.ChoiceField(choices=Flag.choices), required=False, max_length=5
    )
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=3_600_000, required=False)


class TranscriptionOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    chunk = serializers.UUIDField(source="chunk_id")
    text = serializers.CharField()
    normalized_text = serializers.CharField()
    flags = serializers.JSONField()
    source = serializers.ChoiceField(choices=TranscriptionSource.choices)
    vote = serializers.BooleanField(
        allow_null=True,
        help_text="A listener's answer (source `verified`): true, it says the sentence; "
        "false, it does not. Null for typed text.",
    )
    created_at = serializers.DateTimeField(read_only=True)


class TranscriptionListCreateApi(ListAPIView):
    permission_classes = [IsAuthenticated, HasConsented]
    contributes = ("POST",)
    serializer_class = TranscriptionOutput
    throttle_scope = "submit"

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    def get_queryset(self):
        return Transcription.objects.filter(user=self.request.user).order_by("-created_at")

    @extend_schema(
        request=TranscriptionInput,
        responses={201: TranscriptionOutput, 409: LEASE_CONFLICT},
        summary="Submit a transcription of a leased chunk",
    )
    def post(self, request):
        data = TranscriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        transcription = services.transcription_submit(
            user=request.user,
            chunk_id=data.validated_data["chunk"],
            text=data.validated_data["text"],
            flags=data.validated_data.get("flags"),
            time_spent_ms=data.validated_data.get("time_spent_ms"),
        )
        return Response(TranscriptionOutput(transcription).data, status=status.HTTP_201_CREATED)


class VerifyInput(StrictInput):
    matches = serializers.BooleanField()
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        trim_whitespace=True,
        help_text="With `matches` false only: what the clip says instead, stored as a "
        "typed transcription rather than a no vote.",
    )
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=3_600_000, required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("text") and attrs["matches"]:
            raise serializers.ValidationError(
                {"text": _("Send text only with matches false: a yes is the sentence itself.")}
            )
        return attrs


class TaskVerifyApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "submit"

    @extend_schema(
        request=VerifyInput,
        responses={201: TranscriptionOutput, 409: LEASE_CONFLICT},
        summary="Vote whether the chunk says its expected sentence (a verify lease)",
    )
    def post(self, request, chunk_id):
        data = VerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        vote = services.chunk_verify(user=request.user, chunk_id=chunk_id, **data.validated_data)
        return Response(TranscriptionOutput(vote).data, status=status.HTTP_201_CREATED)


class ReleaseInput(StrictInput):
    reason = serializers.ChoiceField(choices=Flag.choices, required=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)


class TaskReleaseApi(APIView):
    kind = SkipReason.SKIP

    @extend_schema(
        request=ReleaseInput,
        responses={
            200: inline_serializer("Released", {"detail": serializers.CharField()}),
            409: LEASE_CONFLICT,
        },
        summary="Release a leased chunk (skip, report, or just give it back)",
    )
    def post(self, request, chunk_id):
        data = ReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.task_release(
            user=request.user,
            chunk_id=chunk_id,
            kind=self.kind,
            reason=data.validated_data.get("reason", ""),
            comment=data.validated_data.get("comment", ""),
        )
        return Response({"detail": _("Released.")})


class TaskReportApi(TaskReleaseApi):
    kind = SkipReason.REPORT


class TaskGiveBackApi(TaskReleaseApi):
    """Hand a leased chunk back without skipping it (e.g. the user left the page)."""

    kind = None
