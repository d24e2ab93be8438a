"""Recording API: languages, the next script to read, uploads and their status."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from recordings import selectors, services
from recordings.audio.quality import plain_quality
from recordings.models import (
    Chunk,
    Language,
    LengthBucket,
    Recording,
    Script,
    ScriptReportReason,
)
from shrutik.api import LanguageCodeField, StrictInput
from shrutik.parsers import FormParser, MultiPartParser
from shrutik.permissions import HasConsented
from shrutik.storage import signed_url


class LanguageOutput(serializers.ModelSerializer):
    class Meta:
        model = Language
        fields = ["code", "name", "native_name"]


class LanguageListApi(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = LanguageOutput
    pagination_class = None

    def get_queryset(self):
        return selectors.language_list_active()


class ScriptOutput(serializers.ModelSerializer):
    language = serializers.CharField(source="language.code")

    class Meta:
        model = Script
        fields = [
            "id",
            "language",
            "text",
            "sentences",
            "estimated_seconds",
            "length_bucket",
            "source",
            "licence",
        ]


class ActiveLanguageField(LanguageCodeField):
    """A language code, resolved from the per-process cache of active languages."""

    def to_internal_value(self, data) -> Language:
        code = super().to_internal_value(data)
        language = selectors.language_active_by_code(code)
        if language is None:
            raise serializers.ValidationError(
                _("No active language with code '{code}'.").format(code=code)
            )
        return language


class ScriptNextInput(StrictInput):
    language = ActiveLanguageField()
    length = serializers.ChoiceField(choices=LengthBucket.choices, required=False)


class ScriptNextApi(APIView):
    @extend_schema(
        parameters=[ScriptNextInput],
        responses={
            200: ScriptOutput,
            404: OpenApiResponse(description="Every script for this choice is recorded."),
        },
        summary="A script the current user has not recorded yet",
    )
    def get(self, request):
        params = ScriptNextInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        script = selectors.script_next(
            user=request.user,
            language=params.validated_data["language"],
            length=params.validated_data.get("length"),
        )
        if script is None:
            return Response(
                {
                    "detail": _(
                        "You have recorded every script available for this choice. Thank you!"
                    )
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(ScriptOutput(script).data)


class ScriptReportInput(StrictInput):
    reason = serializers.ChoiceField(choices=ScriptReportReason.choices)
    sentence = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Index of the sentence the report is about, if one.",
    )


class ScriptReportOutput(serializers.Serializer):
    script = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=ScriptReportReason.choices)
    sentence = serializers.IntegerField(allow_null=True)
    withdrawn = serializers.BooleanField(
        help_text="This report took the script out of use (enough readers reported it)."
    )


class ScriptReportApi(APIView):
    """A reader says a script should not be read as it is. They are not offered
    it again; after SCRIPT_REPORTS_TO_WITHDRAW readers it is withdrawn for all."""

    permission_classes = [IsAuthenticated, HasConsented]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "submit"

    @extend_schema(
        request=ScriptReportInput,
        responses={201: ScriptReportOutput},
        summary="Report a script (typo, offensive, wrong language, hard to read)",
    )
    def post(self, request, pk: int):
        script = get_object_or_404(Script, pk=pk)
        data = ScriptReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        reported = services.script_report(
            script=script,
            user=request.user,
            reason=data.validated_data["reason"],
            sentence_index=data.validated_data.get("sentence"),
        )
        output = {
            "script": script.pk,
            "reason": reported.report.reason,
            "sentence": reported.report.sentence_index,
            "withdrawn": reported.withdrawn,
        }
        return Response(ScriptReportOutput(output).data, status=status.HTTP_201_CREATED)


class ChunkOutput(serializers.ModelSerializer):
    audio_url = serializers.SerializerMethodField()

    class Meta:
        model = Chunk
        fields = [
            "id",
            "index",
            "start",
            "end",
            "duration",
            "expected_text",
            "status",
            "audio_url",
        ]

    def get_audio_url(self, chunk: Chunk) -> str:
        return signed_url(chunk.audio.name, expires=settings.SIGNED_URL_SECONDS)


class QualityOutput(serializers.Serializer):
    level = serializers.ChoiceField(choices=["quiet", "good", "loud"], allow_null=True)
    noise = serializers.ChoiceField(choices=["low", "some", "high"], allow_null=True)


class RecordingOutput(serializers.ModelSerializer):
    script = serializers.PrimaryKeyRelatedField(read_only=True)
    language = serializers.CharField(source="script.language.code", read_only=True)
    chunk_count = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()
    rejection_reason = serializers.SerializerMethodField(
        help_text="Why the recording was refused, in the contributor's language; empty otherwise."
    )
    quality = serializers.SerializerMethodField(
        help_text="How the recording sounds, in words a reader understands: level quiet, "
        "good or loud; background noise low, some or high (null where not measured)."
    )

    class Meta:
        model = Recording
        fields = [
            "id",
            "script",
            "language",
            "status",
            "container",
            "codec",
            "size_bytes",
            "sha256",
            "duration",
            "sample_rate",
            "channels",
            "level_dbfs",
            "peak_dbfs",
            "clipping_ratio",
            "speech_ratio",
            "snr_db",
            "rejection_reason",
            "quality",
            "chunk_count",
            "audio_url",
            "created_at",
            "processed_at",
        ]

    def get_rejection_reason(self, recording: Recording) -> str:
        if not recording.rejection_reason:
            return ""
        return services.rejection_text(recording.rejection, recording.rejection_reason)

    @extend_schema_field(QualityOutput)
    def get_quality(self, recording: Recording) -> dict:
        return plain_quality(
            level_dbfs=recording.level_dbfs,
            snr_db=recording.snr_db,
            clipping_ratio=recording.clipping_ratio,
        )

    def get_chunk_count(self, recording: Recording) -> int:
        annotated = getattr(recording, "chunk_total", None)
        return annotated if annotated is not None else recording.chunks.count()

    def get_audio_url(self, recording: Recording) -> str:
        return signed_url(recording.audio.name, expires=settings.SIGNED_URL_SECONDS)


class RecordingDetailOutput(RecordingOutput):
    chunks = ChunkOutput(many=True, read_only=True)

    class Meta(RecordingOutput.Meta):
        fields = [*RecordingOutput.Meta.fields, "chunks"]


class RecordingCreateInput(StrictInput):
    script = serializers.PrimaryKeyRelatedField(
        queryset=Script.objects.filter(active=True, language__active=True).select_related(
            "language"
        )
    )
    audio = serializers.FileField(allow_empty_file=True)


class RecordingListCreateApi(ListAPIView):
    permission_classes = [IsAuthenticated, HasConsented]
    contributes = ("POST",)
    serializer_class = RecordingOutput
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"

    def get_throttles(self):
        # Only uploads are throttled: polling one's own recordings is cheap.
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    def get_queryset(self):
        from django.db.models import Count

        return (
            selectors.recording_list_visible(user=self.request.user)
            .annotate(chunk_total=Count("chunks"))
            .order_by("-created_at", "id")
        )

    @extend_schema(
        request={"multipart/form-data": RecordingCreateInput},
        responses={
            201: RecordingOutput,
            200: RecordingOutput,
            413: OpenApiResponse(description="The audio file is larger than the limit."),
            415: OpenApiResponse(description="Not audio in a supported container and codec."),
        },
        summary="Upload a reading of a script",
    )
    def post(self, request):
        # Refuse an oversized body before parsing it, so it never reaches disk.
        length = request.META.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > settings.RECORDING_MAX_BYTES + 65536:
            return Response(
                {"detail": services.too_large_message()},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        data = RecordingCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        recording = services.recording_create(
            user=request.user,
            script=data.validated_data["script"],
            upload=data.validated_data["audio"],
        )
        # 200 with the stored recording when this exact reading was already uploaded.
        created = not getattr(recording, "duplicate", False)
        return Response(
            RecordingOutput(recording).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RecordingDetailApi(RetrieveAPIView):
    serializer_class = RecordingDetailOutput

    def get_queryset(self):
        return selectors.recording_list_visible(user=self.request.user).prefetch_related("chunks")

    @extend_schema(
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH)],
        summary="A recording's status, quality and chunks",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
