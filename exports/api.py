"""Export API: request an export, follow its progress, download its files."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contributors.models import AgeRange, Gender
from exports import archive, processing, selectors, services, splits
from exports.downloads import export_file_url
from exports.models import (
    AccessRequest,
    AudioFormat,
    Export,
    ExportFormat,
    ExportStatus,
    NoiseClip,
)
from recordings.models import ChunkStatus, Language
from shrutik.api import LanguageCodeField, StrictInput, api_error
from shrutik.parsers import JSONParser
from shrutik.permissions import IsResearcher
from shrutik.streaming import streaming_response


class ExportFiltersInput(StrictInput):
    languages = serializers.ListField(child=LanguageCodeField(), required=False, default=list)
    min_confidence = serializers.FloatField(
        min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None
    )
    statuses = serializers.MultipleChoiceField(
        choices=ChunkStatus.choices, required=False, default=["validated"]
    )
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    genders = serializers.MultipleChoiceField(choices=Gender.choices, required=False, default=[])
    age_ranges = serializers.MultipleChoiceField(
        choices=AgeRange.choices, required=False, default=[]
    )
    native_languages = serializers.ListField(
        child=serializers.CharField(max_length=35), required=False, default=list
    )
    dialects = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    campaign = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="Only clips recorded for this campaign (its id); the datasheet names it.",
    )

    def validate_campaign(self, value: int | None) -> int | None:
        if value is None:
            return None
        from campaigns.selectors import campaign_name

        name = campaign_name(pk=value)
        if name is None:
            raise serializers.ValidationError(_("No campaign with id {id}.").format(id=value))
        self.campaign_name = name
        return value

    def validate_languages(self, value: list[str]) -> list[str]:
        known = set(Language.objects.filter(code__in=value).values_list("code", flat=True))
        unknown = sorted(set(value) - known)
        if unknown:
            raise serializers.ValidationError(
                _("Unknown language codes: {codes}.").format(codes=", ".join(unknown))
            )
        return sorted(set(value))

    def validate(self, attrs: dict) -> dict:
        if (
            attrs.get("date_from")
            and attrs.get("date_to")
            and attrs["date_from"] > attrs["date_to"]
        ):
            raise serializers.ValidationError(_("date_from must not be after date_to."))
        if attrs.get("campaign") is not None:
            attrs["campaign_name"] = self.campaign_name
        return attrs


def storable_filters(validated: dict | None) -> dict:
    """JSON-ready filters with every key present: sorted lists, ISO dates."""
    data = ExportFiltersInput(data={}).run_validation({}) if validated is None else validated
    data = dict(data)
    for key in ("statuses", "genders", "age_ranges"):
        data[key] = sorted(data.get(key) or [])
    data["statuses"] = data["statuses"] or ["validated"]
    for key in ("date_from", "date_to"):
        data[key] = data[key].isoformat() if data.get(key) else None
    return data


class SplitRatiosInput(StrictInput):
    # Given ratios replace the defaults whole: a split left out gets nothing.
    train = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.0)
    dev = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.0)
    test = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.0)


class SplitInput(StrictInput):
    ratios = SplitRatiosInput(required=False)
    sentence_disjoint = serializers.BooleanField(default=False)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)

    def validate(self, attrs: dict) -> dict:
        ratios = attrs.get("ratios") or dict(splits.DEFAULT_RATIOS)
        if sum(ratios.values()) <= 0:
            raise serializers.ValidationError(_("At least one split ratio must be positive."))
        attrs["ratios"] = dict(ratios)
        return attrs


class LoudnessInput(StrictInput):
    target_lufs = serializers.FloatField(
        min_value=-70.0, max_value=-5.0, help_text="Integrated loudness, LUFS (EBU R128: -23)."
    )
    true_peak_dbtp = serializers.FloatField(
        min_value=-20.0, max_value=0.0, default=-1.0, help_text="True-peak ceiling, dBTP."
    )


class TrimInput(StrictInput):
    top_db = serializers.FloatField(
        min_value=10.0, max_value=90.0, default=40.0,
        help_text="Silence: quieter than this many dB below the clip's loudest frame.",
    )  # fmt: skip
    margin_ms = serializers.IntegerField(
        min_value=0, max_value=2000, default=100, help_text="Silence kept at each end."
    )


class NoiseInput(StrictInput):
    source = serializers.ChoiceField(
        choices=processing.NOISE_SOURCES,
        default="pink",
        help_text="Generated white/pink/brown noise, or the uploaded noise set.",
    )
    snrs = serializers.ListField(
        child=serializers.FloatField(min_value=-10.0, max_value=60.0),
        allow_empty=False,
        max_length=8,
        help_text="One noisy copy per signal-to-noise ratio, dB.",
    )

    def validate_snrs(self, value: list[float]) -> list[float]:
        return sorted(set(value))

    def validate(self, attrs: dict) -> dict:
        if attrs["source"] == processing.NOISE_SET:
            ids = list(NoiseClip.objects.filter(active=True).values_list("pk", flat=True))
            if not ids:
                raise serializers.ValidationError(
                    _(
                        "No noise recordings are uploaded (admin: Noise clips); "
                        "choose white, pink or brown noise."
                    )
                )
            # The set as of the request: later uploads do not change this export.
            attrs["clips"] = sorted(ids)
        return attrs


class AugmentInput(StrictInput):
    speed = serializers.ListField(
        child=serializers.FloatField(),
        required=False,
        default=list,
        max_length=8,
        help_text="Speed perturbation factors, e.g. [0.9, 1.1] (0.5 to 2.0, not 1).",
    )
    noise = NoiseInput(required=False, allow_null=True, default=None)

    def validate_speed(self, value: list[float]) -> list[float]:
        bad = [f for f in value if not 0.5 <= f <= 2.0 or f == 1.0]
        if bad:
            raise serializers.ValidationError(
                _("Speed factors must be between 0.5 and 2.0 and not 1 (got {factor}).").format(
                    factor=f"{bad[0]:g}"
                )
            )
        return sorted(set(value))


class ProcessingInput(StrictInput):
    loudness = LoudnessInput(required=False, allow_null=True, default=None)
    trim = TrimInput(required=False, allow_null=True, default=None)
    channels = serializers.ChoiceField(choices=[1, 2], default=1, help_text="1 mono, 2 stereo.")
    min_duration = serializers.FloatField(
        min_value=0.0, max_value=3600.0, required=False, allow_null=True, default=None,
        help_text="Seconds, after trimming: shorter clips are left out.",
    )  # fmt: skip
    max_duration = serializers.FloatField(
        min_value=0.0, max_value=3600.0, required=False, allow_null=True, default=None,
        help_text="Seconds, after trimming: longer clips are left out.",
    )  # fmt: skip
    augment = AugmentInput(
        required=False, allow_null=True, default=None,
        help_text="Augmented copies, train split only.",
    )  # fmt: skip
    seed = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, default=0, help_text="Seed of every random draw."
    )

    def validate(self, attrs: dict) -> dict:
        low, high = attrs.get("min_duration"), attrs.get("max_duration")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(_("min_duration must not exceed max_duration."))
        augment = attrs.get("augment")
        if augment is not None and not augment.get("speed") and not augment.get("noise"):
            raise serializers.ValidationError(_("augment needs speed factors or noise."))
        return attrs


def storable_processing(validated: dict | None) -> dict:
    """JSON-ready processing options with every key present ({} when none asked)."""
    if not validated:
        return {}
    data = {key: validated.get(key) for key in ProcessingInput().fields}
    for key in ("loudness", "trim", "augment"):
        data[key] = dict(data[key]) if data[key] is not None else None
    if data["augment"] and data["augment"].get("noise") is not None:
        noise = dict(data["augment"]["noise"])
        noise["clips"] = list(noise.get("clips", []))
        data["augment"]["noise"] = noise
    return data


class ExportFileOutput(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.CharField()


class ExportProgressOutput(serializers.Serializer):
    done = serializers.IntegerField(source="items_done")
    total = serializers.IntegerField(source="items_total")
    percent = serializers.FloatField()
    step = serializers.CharField()


class ExportOutput(serializers.ModelSerializer):
    requester = serializers.CharField(source="requester.username")
    progress = ExportProgressOutput(source="*")
    files = serializers.SerializerMethodField()
    archive_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField(
        help_text="Why the export failed, in the reader's language where it can be; or empty."
    )

    class Meta:
        model = Export
        fields = [
            "id",
            "url",
            "version",
            "requester",
            "status",
            "progress",
            "error",
            "filters",
            "formats",
            "audio_format",
            "sample_rate",
            "split_spec",
            "processing",
            "audio",
            "since",
            "stats",
            "files",
            "total_bytes",
            "archive_url",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_url(self, export: Export) -> str:
        return self._absolute(f"/api/exports/{export.id}/")

    def get_error(self, export: Export) -> str:
        # Stored by the worker in English; the reasons a researcher can act on
        # are in the catalogue, anything else (an unexpected failure) reads as
        # it was stored.
        return _(export.error) if export.error else ""

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field(ExportFileOutput(many=True))
    def get_files(self, export: Export) -> list[dict]:
        if export.status != ExportStatus.DONE:
            return []
        # Short-lived links, minted per request: a copied URL stops working soon.
        # Absolute, so that a script can fetch them as they are.
        return [
            {**f, "url": self._absolute(export_file_url(export, f["path"]))} for f in export.files
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_archive_url(self, export: Export) -> str | None:
        if export.status != ExportStatus.DONE:
            return None
        if export.total_bytes > settings.EXPORT_ARCHIVE_MAX_BYTES:
            return None
        return self._absolute(f"/api/exports/{export.id}/archive/")


class ExportInput(StrictInput):
    """What an export is asked for (and what its preview counts)."""

    version = serializers.RegexField(
        r"^[\w.\-]{1,64}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="Label such as v1.0 or 2026-11 (letters, digits, . _ -).",
    )
    formats = serializers.MultipleChoiceField(choices=ExportFormat.choices, allow_empty=False)
    filters = ExportFiltersInput(required=False)
    audio_format = serializers.ChoiceField(choices=AudioFormat.choices, default="flac")
    sample_rate = serializers.ChoiceField(choices=processing.SAMPLE_RATES, default=16000)
    split = SplitInput(required=False)
    processing = ProcessingInput(
        required=False,
        help_text="Loudness, trimming, channels, duration filters and train-split "
        "augmentation; omitted: clips as stored.",
    )
    audio = serializers.BooleanField(
        default=True,
        help_text="false: a metadata-only export (manifests, texts, speakers; no audio files).",
    )
    since = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A delta export: only the clips added or changed since this export of "
        "yours, and removed.tsv listing those removed. It keeps that export's filters "
        "(unless given) and its splits.",
    )

    def validate_since(self, value) -> Export | None:
        if value is None:
            return None
        user = self.context["request"].user
        base = selectors.export_list_visible(user=user).filter(pk=value).first()
        if base is None:
            raise serializers.ValidationError(
                _("Export {id} is not one of your exports.").format(id=value)
            )
        if base.status != ExportStatus.DONE:
            raise serializers.ValidationError(
                _("Export {version} is not finished: a delta follows a finished export.").format(
                    version=base.version
                )
            )
        if not base.indexed:
            raise serializers.ValidationError(
                _(
                    "Export {version} was made before delta exports existed: request a full "
                    "export, then deltas of it."
                ).format(version=base.version)
            )
        return base

    def validate(self, attrs: dict) -> dict:
        opus_rates = processing.OPUS_RATES
        if attrs["audio_format"] == "opus" and attrs["sample_rate"] not in opus_rates:
            rates = ", ".join(str(r) for r in opus_rates)
            raise serializers.ValidationError(
                _("Opus supports sample rates {rates} only.").format(rates=rates)
            )
        if not attrs["audio"] and attrs.get("processing"):
            raise serializers.ValidationError(
                _("A metadata-only export has no audio to process: leave out processing.")
            )
        base = attrs.get("since")
        if base is not None and "split" in attrs:
            given = splits.SplitSpec.from_dict(_split_of(attrs))
            if given.lineage != splits.SplitSpec.from_dict(base.split_spec).lineage:
                raise serializers.ValidationError(
                    _(
                        "A delta keeps the splits of the export it follows: leave out split, "
                        "or give the same ratios, seed and sentence mode."
                    )
                )
        return attrs


def _split_of(values: dict) -> dict:
    """The split an export request asks for, with every key present."""
    split = values.get("split") or {}
    return {
        "ratios": split.get("ratios") or dict(splits.DEFAULT_RATIOS),
        "seed": split.get("seed", 0),
        "sentence_disjoint": split.get("sentence_disjoint", False),
    }


def _filters_of(values: dict) -> dict:
    """A request's filters; a delta without any keeps those of its base."""
    base = values.get("since")
    if base is not None and "filters" not in values:
        return base.filters
    return storable_filters(values.get("filters"))


class ExportListCreateApi(ListAPIView):
    """/api/exports/: GET lists the exports the user may see, POST requests one."""

    permission_classes = [IsResearcher]
    # Filters, split and processing are nested objects, which a form cannot carry.
    parser_classes = [JSONParser]
    serializer_class = ExportOutput

    class Accepted(serializers.Serializer):
        id = serializers.UUIDField()
        status = serializers.CharField()
        url = serializers.CharField()

    def get_queryset(self):
        return selectors.export_list_visible(user=self.request.user)

    @extend_schema(summary="Exports you requested (admins: all)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ExportInput,
        responses={202: Accepted, 400: OpenApiResponse(description="Invalid request")},
        summary="Request a dataset export",
    )
    def post(self, request):
        data = ExportInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        export = services.export_create(
            requester=request.user,
            formats=sorted(values["formats"]),
            filters=_filters_of(values),
            audio_format=values["audio_format"],
            sample_rate=values["sample_rate"],
            split=_split_of(values),
            version=values["version"],
            processing=storable_processing(values.get("processing")),
            audio=values["audio"],
            since=values["since"],
        )
        body = {
            "id": export.id,
            "status": export.status,
            "url": request.build_absolute_uri(f"/api/exports/{export.id}/"),
        }
        return Response(self.Accepted(body).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={200: ExportOutput}, summary="Status, progress, stats and files")
    def get(self, request, pk):
        export = get_object_or_404(selectors.export_list_visible(user=request.user), pk=pk)
        return Response(ExportOutput(export, context={"request": request}).data)


class ExportArchiveApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        responses={
            (200, "application/x-tar"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="The export is not finished"),
            413: OpenApiResponse(description="Too large for a single archive"),
        },
        summary="The whole export as one tar archive (small exports only)",
    )
    def get(self, request, pk):
        export = get_object_or_404(selectors.export_list_visible(user=request.user), pk=pk)
        if export.status != ExportStatus.DONE:
            return api_error(_("The export is not finished yet."), status.HTTP_409_CONFLICT)
        if export.total_bytes > settings.EXPORT_ARCHIVE_MAX_BYTES:
            return api_error(
                _("This export is too large for a single archive; download its files."),
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        response = streaming_response(
            request, archive.tar_stream(export), content_type="application/x-tar"
        )
        name = f"shrutik-{export.version}-{str(export.id)[:8]}.tar"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response


class AccessRequestOutput(serializers.ModelSerializer):
    class Meta:
        model = AccessRequest
        fields = ["id", "name", "institution", "email", "purpose", "terms_version", "status",
                  "note", "created_at", "decided_at"]  # fmt: skip


class AccessRequestInput(StrictInput):
    name = serializers.CharField(max_length=150)
    institution = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    purpose = serializers.CharField(
        min_length=20, max_length=2000, help_text="Your project and what the data is for."
    )
    terms_version = serializers.CharField(
        max_length=32,
        help_text="The version of the data terms you accept (see /research/access/).",
    )


class AccessRequestApi(ListAPIView):
    """/api/research/access/: GET your requests for researcher access, POST one."""

    permission_classes = [IsAuthenticated]
    serializer_class = AccessRequestOutput

    def get_queryset(self):
        return AccessRequest.objects.filter(user=self.request.user)

    @extend_schema(summary="Your requests for researcher access, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=AccessRequestInput,
        responses={
            201: AccessRequestOutput,
            400: OpenApiResponse(description="Invalid request, or already a researcher"),
            409: OpenApiResponse(description="An earlier request is still waiting"),
        },
        summary="Request researcher access",
    )
    def post(self, request):
        data = AccessRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            access = services.access_request_create(
                user=request.user,
                language=get_language() or "",
                site_url=request.build_absolute_uri("/"),
                **data.validated_data,
            )
        except services.AccessRequestError as exc:
            code = status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_400_BAD_REQUEST
            return api_error(str(exc), code)
        return Response(AccessRequestOutput(access).data, status=status.HTTP_201_CREATED)


class ExportPreviewOutput(serializers.Serializer):
    class Figures(serializers.Serializer):
        clips = serializers.IntegerField()
        seconds = serializers.FloatField()
        hours = serializers.FloatField()
        speakers = serializers.IntegerField()

    clips = serializers.IntegerField()
    seconds = serializers.FloatField()
    hours = serializers.FloatField()
    speakers = serializers.IntegerField()
    languages = serializers.DictField(child=Figures(), help_text="Per language code.")


class ExportPreviewApi(APIView):
    """/api/exports/preview/: how much an export would hold, before asking for it."""

    permission_classes = [IsResearcher]
    parser_classes = [JSONParser]

    @extend_schema(
        request=ExportInput,
        responses={200: ExportPreviewOutput, 400: OpenApiResponse(description="Invalid request")},
        summary="Clips, hours and speakers an export with this input would hold now",
    )
    def post(self, request):
        data = ExportInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        filters = _filters_of(data.validated_data)
        return Response(ExportPreviewOutput(selectors.export_preview(filters=filters)).data)
