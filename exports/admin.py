import io

import soundfile as sf
from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from exports import services
from exports.downloads import export_file_url
from exports.models import (
    AccessRequest,
    AccessStatus,
    Export,
    ExportStatus,
    NoiseClip,
    SpeakerSplit,
)


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["id", "version", "requester", "status", "percent", "step", "created_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["status", "audio_format"]
    search_fields = ["id", "version", "requester__username"]
    list_select_related = ["requester"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [
        "id", "requester", "version", "filters", "formats", "audio_format", "sample_rate",
        "split_spec", "processing", "audio", "since", "indexed", "status", "items_done",
        "items_total", "step", "error", "attempts", "total_bytes", "prefix", "download_links",
        "stats", "created_at", "started_at", "finished_at",
    ]  # fmt: skip
    exclude = ["files", "run_token"]

    def has_add_permission(self, request) -> bool:
        return False  # exports are requested through the API or the exports page

    @admin.display(description=_("progress %"))
    def percent(self, obj: Export) -> float:
        return obj.percent

    @admin.display(description=_("files"))
    def download_links(self, obj: Export):
        if obj.status != ExportStatus.DONE:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> ({} bytes)</li>',
                ((export_file_url(obj, f["path"]), f["path"], f["size"]) for f in obj.files),
            ),
        )

    @admin.action(description=_("Retry selected failed exports"))
    def retry(self, request, queryset):
        retried = sum(services.export_retry(export_id=e.pk) for e in queryset)
        messages.info(request, _("%(n)d export(s) queued again.") % {"n": retried})


@admin.register(SpeakerSplit)
class SpeakerSplitAdmin(admin.ModelAdmin):
    list_display = ["lineage", "speaker", "split", "created_at"]
    list_filter = ["split"]
    search_fields = ["speaker", "lineage"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class NoiseClipForm(forms.ModelForm):
    class Meta:
        model = NoiseClip
        fields = ["name", "audio", "active"]

    def clean_audio(self):
        upload = self.cleaned_data["audio"]
        if upload and not getattr(upload, "_committed", True):
            # Checked here so that an unreadable file is refused with a form
            # error instead of failing every export that draws it.
            try:
                info = sf.info(io.BytesIO(upload.read()))
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise forms.ValidationError(
                    _("Not an audio file soundfile can read (WAV, FLAC, Ogg): %(e)s") % {"e": exc}
                ) from exc
            finally:
                upload.seek(0)
            if info.frames < info.samplerate * 0.5:
                raise forms.ValidationError(_("Noise recordings must last at least 0.5 s."))
            self.instance.duration = round(info.frames / info.samplerate, 3)
            self.instance.sample_rate = info.samplerate
        return upload


@admin.register(NoiseClip)
class NoiseClipAdmin(admin.ModelAdmin):
    """Noise recordings for additive-noise augmentation (source "set" in an export)."""

    form = NoiseClipForm
    list_display = ["name", "active", "duration", "sample_rate", "created_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    readonly_fields = ["duration", "sample_rate", "created_at"]


@admin.register(AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    """Requests for researcher access. Approving grants the researcher role and
    e-mails the requester; declining e-mails them too, with the note."""

    list_display = ["name", "institution", "user", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["name", "institution", "email", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "institution", "email", "purpose", "terms_version",
                       "status", "decided_by", "decided_at", "created_at"]  # fmt: skip
    fields = ["user", "name", "institution", "email", "purpose", "terms_version", "status",
              "note", "decided_by", "decided_at", "created_at"]  # fmt: skip
    actions = ["approve", "decline"]
    change_form_template = "admin/exports/accessrequest/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False  # researchers ask on /research/access/ or through the API

    def _decide(self, request, access: AccessRequest, *, approve: bool, note=None) -> bool:
        try:
            services.access_request_decide(
                request_id=access.pk,
                admin=request.user,
                approve=approve,
                note=note,
                site_url=request.build_absolute_uri("/"),
            )
        except services.AccessRequestError as exc:
            self.message_user(request, f"{access}: {exc}", messages.WARNING)
            return False
        return True

    @admin.action(description=_("Approve selected requests (grants the researcher role)"))
    def approve(self, request, queryset):
        done = sum(self._decide(request, a, approve=True) for a in queryset)
        message = ngettext(
            "%(n)d request approved; the requester is told by e-mail.",
            "%(n)d requests approved; the requesters are told by e-mail.",
            done,
        )
        self.message_user(request, message % {"n": done})

    @admin.action(description=_("Decline selected requests"))
    def decline(self, request, queryset):
        done = sum(self._decide(request, a, approve=False) for a in queryset)
        message = ngettext(
            "%(n)d request declined; the requester is told by e-mail.",
            "%(n)d requests declined; the requesters are told by e-mail.",
            done,
        )
        self.message_user(request, message % {"n": done})

    def response_change(self, request, obj):
        decision = next((d for d in ("approve", "decline") if f"_{d}" in request.POST), None)
        if decision is None or obj.status != AccessStatus.PENDING:
            return super().response_change(request, obj)
        approve = decision == "approve"
        if self._decide(request, obj, approve=approve, note=obj.note):
            message = (
                _("%(name)s now has researcher access; they are told by e-mail at %(email)s.")
                if approve
                else _("%(name)s's request is declined; they are told by e-mail at %(email)s.")
            )
            self.message_user(request, message % {"name": obj.name, "email": obj.email})
        return self.response_post_save_change(request, obj)
