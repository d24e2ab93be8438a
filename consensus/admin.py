"""The review queue: doubtful chunks with their audio, every transcription and
vote, the proposed text, and accept / correct / reject. The same pages list the
chunks the crowd accepted (status filter "Accepted by the crowd"), where
accepting promotes the crowd's text to validated."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.db.models import OuterRef, Subquery
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consensus import services
from consensus.models import ConsensusDecision, ReviewChunk, StoppingThreshold, chunk_name
from consensus.reasons import explain_reason
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


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


# Doubt shading of a word: the site's Content-Security-Policy allows no inline
# styles, so each band is a class of static/css/review.css.
DOUBT_BANDS = (0.95, 0.85, 0.7, 0.5)


def doubt_class(confidence: float) -> str:
    """``doubt-0`` (sure) to ``doubt-4`` (below 50%)."""
    return f"doubt-{sum(confidence < edge for edge in DOUBT_BANDS)}"


def _outcome_label(outcome: str) -> str:
    if outcome == "need_more":
        return gettext("needs more answers")
    return str(dict(ChunkStatus.choices).get(outcome, outcome))


def _when(moment) -> str:
    # Minutes are enough to tell decisions apart; microseconds are noise.
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


@admin.register(ReviewChunk)
class ReviewChunkAdmin(admin.ModelAdmin):
    form = ReviewForm
    list_display = ["__str__", "language", "status", "confidence_shown", "review_gain",
                    "transcriptions_received", "consensus_text", "expected_text"]  # fmt: skip
    list_filter = ["status", "language", ConfidenceFilter, ReasonFilter]
    search_fields = ["consensus_text", "expected_text"]
    # The recording names the script the chunk is named by.
    list_select_related = ["language", "recording"]
    # Where a review removes the most expected wrong words first (the engine's
    # review_gain), then the oldest; served by chunk_review_queue_idx.
    ordering = ["-review_gain", "created_at"]
    # The queue holds most chunks: one count (the filtered one) per page is enough.
    show_full_result_count = False
    readonly_fields = ["why_review", "player", "expected_text", "reader", "consensus_text",
                       "confidence_shown", "word_view", "transcription_table",
                       "decision_history"]  # fmt: skip
    fieldsets = [
        (
            None,
            {"fields": ["why_review", "player", "expected_text", "reader", "transcription_table"]},
        ),
        (
            _("Proposal"),
            {"fields": ["consensus_text", "confidence_shown", "word_view", "corrected_text"]},
        ),
        (_("History"), {"fields": ["decision_history"]}),
    ]
    actions = ["accept_proposals", "reject_chunks"]
    change_form_template = "admin/consensus/reviewchunk/change_form.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("language", "recording")
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            status = request.GET.get("status__exact")
            if not status:
                qs = qs.filter(status=ChunkStatus.NEEDS_REVIEW)
        return qs

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("confidence"), ordering="confidence")
    def confidence_shown(self, obj):
        return _percent(obj.confidence)

    @admin.display(description=_("why a person is needed"))
    def why_review(self, obj):
        decision = ConsensusDecision.objects.filter(chunk=obj).first()
        if decision is None:
            return "—"
        return explain_reason(decision.reason, audit=decision.audit)

    @admin.display(description=_("audio"))
    def player(self, obj):
        return audio_player(obj.audio.name)

    @admin.display(description=_("per-word confidence"))
    def word_view(self, obj):
        return format_html(
            '<span class="word-confidence">{}</span>',
            format_html_join(
                " ",
                '<span class="word {}" title="{}">{}</span>',
                ((doubt_class(c), _percent(c), w) for w, c in obj.word_confidence),
            ),
        )

    @admin.display(description=_("reader"))
    def reader(self, obj):
        """Who read it, and how often their chunks say their sentence: a proven
        reader's sentence needs fewer listeners."""
        if not obj.expected_text:
            return obj.contributor
        standing = services.reader_standing(obj.contributor_id, obj.language.code)
        return _("%(reader)s, reading: %(standing)s") % {
            "reader": obj.contributor,
            "standing": standing,
        }

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
            '<p class="decision">{} · {} · <strong>{}</strong><br>{}</p>',
            (
                (
                    _when(d.created_at),
                    d.get_decided_by_display(),
                    _outcome_label(d.outcome),
                    explain_reason(d.reason, audit=d.audit),
                )
                for d in rows
            ),
        )

    REVIEW_DONE = {
        "accept": _("%(chunk)s: proposal accepted."),
        "correct": _("%(chunk)s: corrected text saved."),
        "reject": _("%(chunk)s: rejected."),
    }

    def response_change(self, request, obj):
        action = next(
            (a for a in ("accept", "correct", "reject") if f"_review_{a}" in request.POST), None
        )
        if action:
            queue_status = obj.status  # as the reviewer found it, before the review
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
            self.message_user(request, self.REVIEW_DONE[action] % {"chunk": obj}, messages.SUCCESS)
            return self._go_to_next(request, obj, queue_status)
        return super().response_change(request, obj)

    def _go_to_next(self, request, reviewed, queue_status: str):
        """On to the next chunk of the queue the reviewer is working (its status
        and filters, kept by the admin in ``_changelist_filters``), where a
        review fixes most; back to the list when it is empty."""
        preserved = self.get_preserved_filters(request)
        context = {"preserved_filters": preserved, "opts": self.opts}
        following = self.next_in_queue(request, reviewed=reviewed, status=queue_status)
        if following is None:
            self.message_user(request, gettext("Nothing more waits in this queue."))
            url = reverse("admin:consensus_reviewchunk_changelist")
        else:
            url = reverse("admin:consensus_reviewchunk_change", args=[following.pk])
        return redirect(add_preserved_filters(context, url))

    def next_in_queue(self, request, *, reviewed, status: str):
        filters = QueryDict(request.GET.get("_changelist_filters", ""))
        if filters.get("status__exact"):
            status = filters["status__exact"]
        elif status not in (ChunkStatus.NEEDS_REVIEW, ChunkStatus.ACCEPTED):
            status = ChunkStatus.NEEDS_REVIEW
        qs = ReviewChunk.objects.filter(status=status).exclude(pk=reviewed.pk)
        if filters.get("language__id__exact"):
            qs = qs.filter(language_id=filters["language__id__exact"])
        params = {key: filters.getlist(key) for key in filters}
        for band in (ConfidenceFilter, ReasonFilter):
            qs = band(request, params, ReviewChunk, self).queryset(request, qs)
        return qs.order_by(*self.ordering).first()

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
    list_display = ["chunk_shown", "outcome", "decided_by", "confidence_shown", "method_version",
                    "created_at"]  # fmt: skip
    list_filter = ["outcome", "decided_by", "audit", "method_version"]
    list_select_related = ["chunk__recording"]
    readonly_fields = [f.name for f in ConsensusDecision._meta.fields] + ["explanation"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("chunk"), ordering="chunk")
    def chunk_shown(self, obj):
        return chunk_name(obj.chunk)

    @admin.display(description=_("confidence"), ordering="confidence")
    def confidence_shown(self, obj):
        return _percent(obj.confidence)

    @admin.display(description=_("in plain words"))
    def explanation(self, obj):
        return explain_reason(obj.reason, audit=obj.audit)


@admin.register(StoppingThreshold)
class StoppingThresholdAdmin(admin.ModelAdmin):
    """Where each language's stopping threshold has drifted to. Editable: an
    operator who changes the transcript budget can restart the threshold
    near its new resting point instead of waiting for the controller."""

    list_display = ["language", "value", "chunks", "updated_at"]
    readonly_fields = ["language", "chunks", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False
