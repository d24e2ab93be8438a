from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from recordings import scripts, services
from recordings.models import Chunk, Language, Recording, Script
from shrutik.storage import signed_url


def audio_player(name: str):
    if not name:
        return "—"
    url = signed_url(name, expires=settings.SIGNED_URL_SECONDS)
    return format_html('<audio controls preload="none" src="{}"></audio>', url)


@admin.register(Language)
class LanguageAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "native_name", "active", "allow_digits"]
    list_filter = ["active"]
    search_fields = ["code", "name", "native_name"]


class ScriptImportForm(forms.Form):
    language = forms.ModelChoiceField(queryset=Language.objects.all())
    file = forms.FileField(help_text=_("UTF-8 TSV or CSV (text in the first column) or plain text"))
    grouping = forms.ChoiceField(
        choices=[
            ("sentence", _("One sentence per line: one single-sentence script each")),
            ("paragraph", _("One paragraph per line: one longer script each")),
        ]
    )
    source = forms.CharField(max_length=300, required=False)
    licence = forms.CharField(max_length=100, required=False, initial="CC0-1.0")


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ["id", "language", "short_text", "length_bucket", "estimated_seconds",
                    "recording_count", "active"]  # fmt: skip
    list_filter = ["language", "length_bucket", "active", "licence"]
    search_fields = ["text", "source"]
    readonly_fields = ["sentences", "estimated_seconds", "length_bucket", "recording_count"]
    actions = ["deactivate"]
    change_list_template = "admin/recordings/script/change_list.html"

    @admin.display(description=_("text"))
    def short_text(self, obj: Script) -> str:
        return obj.text[:80]

    @admin.action(description=_("Deactivate selected scripts"))
    def deactivate(self, request, queryset):
        queryset.update(active=False)

    def save_model(self, request, obj, form, change):
        built = scripts.script_build(language=obj.language, text=obj.text)
        obj.sentences, obj.estimated_seconds = built.sentences, built.estimated_seconds
        obj.length_bucket = built.length_bucket
        super().save_model(request, obj, form, change)

    def get_urls(self):
        extra = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="recordings_script_import",
            )
        ]
        return extra + super().get_urls()

    def import_view(self, request):
        form = ScriptImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            name = upload.name.lower()
            fmt = "tsv" if name.endswith(".tsv") else "csv" if name.endswith(".csv") else "txt"
            report = scripts.scripts_import(
                language=form.cleaned_data["language"],
                content=upload.read(scripts.MAX_IMPORT_BYTES + 1),
                fmt=fmt,
                grouping=form.cleaned_data["grouping"],
                source=form.cleaned_data["source"],
                licence=form.cleaned_data["licence"],
            )
            if report.ok:
                self.message_user(
                    request, _("Imported %d scripts.") % report.created, messages.SUCCESS
                )
                return redirect("admin:recordings_script_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "report": report,
            "opts": self.model._meta,
            "title": _("Import scripts"),
        }
        status = 400 if report and not report.ok else 200
        return render(request, "admin/recordings/script/import.html", context, status=status)


class ChunkInline(admin.TabularInline):
    model = Chunk
    extra = 0
    can_delete = False
    fields = ["index", "start", "end", "expected_text", "status", "player"]
    readonly_fields = fields

    @admin.display(description=_("audio"))
    def player(self, obj: Chunk):
        return audio_player(obj.audio.name)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["id", "contributor", "language", "status", "duration", "level_dbfs",
                    "snr_db", "speech_ratio", "created_at"]  # fmt: skip
    list_filter = ["status", "script__language", "container", "created_at"]
    search_fields = ["id", "contributor__username", "sha256"]
    list_select_related = ["contributor", "script__language"]
    readonly_fields = [f.name for f in Recording._meta.fields] + ["player"]
    inlines = [ChunkInline]
    actions = ["reprocess", "reject"]

    @admin.display(description=_("language"), ordering="script__language__code")
    def language(self, obj: Recording) -> str:
        return obj.script.language.code

    @admin.display(description=_("original audio"))
    def player(self, obj: Recording):
        return audio_player(obj.audio.name)

    @admin.action(description=_("Re-process selected recordings (replaces their chunks)"))
    def reprocess(self, request, queryset):
        count = 0
        for recording in queryset:
            try:
                services.recording_reprocess(recording_id=recording.id)
            except ValueError as exc:
                self.message_user(request, f"{recording.id}: {exc}", messages.WARNING)
                continue
            count += 1
        self.message_user(request, _("%d recordings queued.") % count, messages.SUCCESS)

    @admin.action(description=_("Reject selected recordings"))
    def reject(self, request, queryset):
        for recording in queryset:
            services.recording_reject(
                recording_id=recording.id, reason=gettext_noop("Rejected by a reviewer.")
            )
        self.message_user(request, _("Recordings rejected."), messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["__str__", "language", "status", "duration", "transcriptions_received",
                    "confidence", "expected_text"]  # fmt: skip
    list_filter = ["status", "language", ("expected_sentence_index", admin.EmptyFieldListFilter)]
    search_fields = ["expected_text", "consensus_text", "recording__id"]
    list_select_related = ["language", "recording"]
    readonly_fields = ["recording", "contributor", "language", "index", "start", "end", "duration",
                       "audio", "player", "transcriptions_received"]  # fmt: skip

    @admin.display(description=_("audio"))
    def player(self, obj: Chunk):
        return audio_player(obj.audio.name)
