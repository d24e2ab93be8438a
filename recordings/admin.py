from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext

from contributors.forms import language_choices
from recordings import scripts, services
from recordings.models import Chunk, Language, Recording, Script, ScriptReport
from shrutik.storage import signed_url


def audio_player(name: str):
    if not name:
        return "—"
    url = signed_url(name, expires=settings.SIGNED_URL_SECONDS)
    return format_html('<audio controls preload="none" src="{}"></audio>', url)


class ListedTextInput(forms.TextInput):
    """A text box with suggestions (an HTML datalist): pick a language by name,
    or type a code the list does not have."""

    def __init__(self, options: list[tuple[str, str]], attrs=None):
        super().__init__({**(attrs or {}), "list": "language-codes"})
        self.options = options

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        listed = format_html_join(
            "", '<option value="{}">{}</option>', ((code, label) for code, label in self.options)
        )
        return format_html('{}<datalist id="language-codes">{}</datalist>', box, listed)


@admin.register(Language)
class LanguageAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "native_name", "active", "allow_digits"]
    list_filter = ["active"]
    search_fields = ["code", "name", "native_name"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "code":
            listed = [(code, label) for code, label in language_choices() if code]
            kwargs["widget"] = ListedTextInput(listed)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


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


class ScriptReportInline(admin.TabularInline):
    model = ScriptReport
    extra = 0
    can_delete = False
    fields = ["reason", "sentence_index", "reporter", "created_at", "resolved_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ["id", "language", "short_text", "length_bucket", "estimated_seconds",
                    "recording_count", "active"]  # fmt: skip
    list_filter = ["language", "length_bucket", "active", "licence"]
    inlines = [ScriptReportInline]
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
                n = report.created
                self.message_user(
                    request,
                    ngettext("Imported %d script.", "Imported %d scripts.", n) % n,
                    messages.SUCCESS,
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


class OpenReportFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("closed", _("Closed"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "closed":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(ScriptReport)
class ScriptReportAdmin(admin.ModelAdmin):
    """The queue of readers' reports on scripts. A script is withdrawn by itself
    after SCRIPT_REPORTS_TO_WITHDRAW reports; here an admin puts it back or keeps
    it out, closing its reports either way."""

    list_display = ["script_text", "sentence", "reason", "script_active", "reporter",
                    "created_at", "resolved_at"]  # fmt: skip
    list_filter = [OpenReportFilter, "reason", "script__language"]
    list_select_related = ["script", "reporter"]
    search_fields = ["script__text"]
    readonly_fields = ["script", "reporter", "reason", "sentence_index", "created_at",
                       "resolved_at"]  # fmt: skip
    actions = ["restore_scripts", "keep_scripts_out"]
    ordering = ["resolved_at", "-created_at"]

    @admin.display(description=_("script"))
    def script_text(self, obj: ScriptReport) -> str:
        return obj.script.text[:80]

    @admin.display(description=_("sentence"))
    def sentence(self, obj: ScriptReport) -> str:
        if obj.sentence_index is None or obj.sentence_index >= len(obj.script.sentences):
            return "—"
        return obj.script.sentences[obj.sentence_index]

    @admin.display(description=_("in use"), boolean=True)
    def script_active(self, obj: ScriptReport) -> bool:
        return obj.script.active

    @admin.action(description=_("Put the scripts back in use and close their reports"))
    def restore_scripts(self, request, queryset):
        self._close(request, queryset, restore=True)

    @admin.action(description=_("Keep the scripts out of use and close their reports"))
    def keep_scripts_out(self, request, queryset):
        self._close(request, queryset, restore=False)

    def _close(self, request, queryset, *, restore: bool) -> None:
        script_ids = set(queryset.values_list("script_id", flat=True))
        closed = services.script_reports_close(script_ids=script_ids, restore=restore)
        message = ngettext("%d report closed.", "%d reports closed.", closed) % closed
        self.message_user(request, message, messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False


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
        self.message_user(
            request,
            ngettext("%d recording queued.", "%d recordings queued.", count) % count,
            messages.SUCCESS,
        )

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
