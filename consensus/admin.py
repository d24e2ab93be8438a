"""The review queue: doubtful chunks with their audio, every transcription and
vote, the proposed text, and accept / correct / reject. The same pages list the
chunks the crowd accepted (status filter "Accepted by the crowd"), where
accepting promotes the crowd's text to validated."""

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from consensus import services
from consensus.models import ConsensusDecision, ReviewChunk, StoppingThreshold
from recordings.admin import audio_player
from recordings.models import ChunkStatus
from transcriptions.models import Transcription


class ReviewForm(forms.ModelForm):
    corrected_text = forms.CharField(
        label=_("Final text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=_("Edit to correct the proposal, then choose “Save as corrected”."),
    )

    class Meta:
        model = ReviewChunk
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.fields["corrected_text"].initial = self.instance.consensus_text


class ConfidenceFilter(admin.SimpleListFilter):
    """Bands of the engine's confidence (1 − estimated WER): reviewers work the
    doubtful band word by word and spot-check, then bulk-accept, the sure one."""

    title = _("confidence")
    parameter_name = "confidence_band"
    BANDS = {"low": (None, 0.9), "medium": (0.9, 0.97), "high": (0.97, None)}

    def lookups(self, request, model_admin):
        return [
            ("low", _("below 90%")),
            ("medium", _("90% to 97%")),
            ("high", _("97% and above")),
        ]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high = band
        if low is not None:
            queryset = queryset.filter(confidence__gte=low)
        if high is not None:
            queryset = queryset.filter(confidence__lt=high)
        return queryset


def _newest_decision_audited():
    """Whether the chunk's newest decision validated it and drew it for audit."""
    return Subquery(
        ConsensusDecision.objects.filter(chunk=OuterRef("pk"))
        .order_by("-created_at")
        .values("audit")[:1]
    )


class ReasonFilter(admin.SimpleListFilter):
    """Audit samples (validated chunks drawn at random for a person to confirm)
    apart from the chunks the engine could not settle."""

    title = _("why in review")
    parameter_name = "why"

    def lookups(self, request, model_admin):
        return [("audit", _("audit sample")), ("doubt", _("not validated"))]

    def queryset(self, request, queryset):
        if self.value() in ("audit", "doubt"):
            audited = queryset.annotate(audited=_newest_decision_audited())
            if self.value() == "audit":
                return audited.filter(audited=True)
            return audited.exclude(audited=True)
        return queryset


def _vote_label(vote: bool) -> str:
    return _("voted: says the sentence") if vote else _("voted: does not say the sentence")


@admin.register(ReviewChunk)
class ReviewChunkAdmin(admin.ModelAdmin):
    form = ReviewForm
    list_display = ["__str__", "language", "status", "confidence", "review_gain",
                    "transcriptions_received", "consensus_text", "expected_text"]  # fmt: skip
    list_filter = ["status", "language", ConfidenceFilter, ReasonFilter]
    search_fields = ["consensus_text", "expected_text"]
    list_select_related = ["language"]
    # Where a review removes the most expected wrong words first (the engine's
    # review_gain), then the oldest; served by chunk_review_queue_idx.
    ordering = ["-review_gain", "created_at"]
    # The queue holds most chunks: one count (the filtered one) per page is enough.
    show_full_result_count = False
    readonly_fields = ["player", "expected_text", "consensus_text", "confidence", "word_view",
                       "transcription_table", "decision_history"]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["player", "expected_text", "transcription_table"]}),
        (
            _("Proposal"),
            {"fields": ["consensus_text", "confidence", "word_view", "corrected_text"]},
        ),
        (_("History"), {"fields": ["decision_history"]}),
    ]
    actions = ["accept_proposals", "reject_chunks"]
    change_form_template = "admin/consensus/reviewchunk/change_form.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            status = request.GET.get("status__exact")
            if not status:
                qs = qs.filter(status=ChunkStatus.NEEDS_REVIEW)
        return qs

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("audio"))
    def player(self, obj):
        return audio_player(obj.audio.name)

    @admin.display(description=_("per-word confidence"))
    def word_view(self, obj):
        return format_html_join(
            " ",
            '<span title="{}" style="background: rgba(220,50,30,{})">{}</span>',
            ((f"{c:.2f}", round(1 - c, 2), w) for w, c in obj.word_confidence),
        )

    @admin.display(description=_("transcriptions"))
    def transcription_table(self, obj):
        rows = list(Transcription.objects.filter(chunk=obj).select_related("user"))
        typing, listening = services.contributor_standings(
            [t.user_id for t in rows], obj.language.code
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("contributor"),
            _("reliability"),
            _("text"),
            _("flags"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        t.user,
                        str(typing[t.user_id])
                        if t.vote is None
                        else _("listening: %s") % listening[t.user_id],
                        t.text if t.vote is None else _vote_label(t.vote),
                        ", ".join(t.flags),
                    )
                    for t in rows
                ),
            ),
        )

    @admin.display(description=_("decisions"))
    def decision_history(self, obj):
        rows = ConsensusDecision.objects.filter(chunk=obj).select_related("reviewer")[:20]
        return format_html_join(
            "",
            "<p>{} · {} · {} · {}</p>",
            ((d.created_at, d.decided_by, d.outcome, d.reason) for d in rows),
        )

    def response_change(self, request, obj):
        action = next(
            (a for a in ("accept", "correct", "reject") if f"_review_{a}" in request.POST), None
        )
        if action:
            try:
                services.chunk_review(
                    chunk_id=obj.pk,
                    reviewer=request.user,
                    action=action,
                    text=request.POST.get("corrected_text"),
                    # What the page showed: accepting never accepts a newer text.
                    proposal=request.POST.get("_proposal"),
                )
            except ValueError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return super().response_change(request, obj)
            self.message_user(request, _("Chunk reviewed: %s.") % action, messages.SUCCESS)
            return self.response_post_save_change(request, obj)
        return super().response_change(request, obj)

    # On chunks the crowd accepted, accepting promotes their text to validated.
    @admin.action(description=_("Accept the proposed text of selected chunks"))
    def accept_proposals(self, request, queryset):
        for chunk in queryset:
            services.chunk_review(chunk_id=chunk.pk, reviewer=request.user, action="accept")
        self.message_user(request, _("Accepted."), messages.SUCCESS)

    @admin.action(description=_("Reject selected chunks"))
    def reject_chunks(self, request, queryset):
        for chunk in queryset:
            services.chunk_review(chunk_id=chunk.pk, reviewer=request.user, action="reject")
        self.message_user(request, _("Rejected."), messages.SUCCESS)


@admin.register(ConsensusDecision)
class ConsensusDecisionAdmin(admin.ModelAdmin):
    list_display = ["chunk", "outcome", "decided_by", "confidence", "method_version", "created_at"]
    list_filter = ["outcome", "decided_by", "audit", "method_version"]
    readonly_fields = [f.name for f in ConsensusDecision._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(StoppingThreshold)
class StoppingThresholdAdmin(admin.ModelAdmin):
    """Where each language's stopping threshold has drifted to. Editable: an
    operator who changes the transcript budget can restart the threshold
    near its new resting point instead of waiting for the controller."""

    list_display = ["language", "value", "chunks", "updated_at"]
    readonly_fields = ["language", "chunks", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False
