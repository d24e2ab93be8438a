"""The reviewer's view of a chunk: its transcriptions, decisions and confidence."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from consensus import services
from consensus.models import ConsensusDecision
from recordings.models import Chunk
from shrutik.permissions import IsReviewer
from shrutik.storage import signed_url
from transcriptions.models import Transcription


class ChunkTranscriptionOutput(serializers.ModelSerializer):
    contributor = serializers.CharField(source="user.username")
    contributor_accuracy = serializers.SerializerMethodField(
        help_text="The contributor's estimated word accuracy in the chunk's language, or "
        "for a vote how often their votes are right (the newcomer prior without a record)."
    )
    vote_weight = serializers.SerializerMethodField(
        help_text="How much this transcription's vote weighs (log-odds); 0 = it does not "
        "count (contributor silenced or blocked)."
    )
    contributor_blocked = serializers.SerializerMethodField()

    class Meta:
        model = Transcription
        fields = ["id", "contributor", "contributor_accuracy", "vote_weight",
                  "contributor_blocked", "text", "normalized_text", "flags", "source",
                  "vote", "created_at"]  # fmt: skip

    def _standing(self, transcription: Transcription) -> services.Standing:
        typing, listening = self.context["standing"]
        return (typing if transcription.vote is None else listening)[transcription.user_id]

    def get_contributor_accuracy(self, transcription: Transcription) -> float:
        return round(self._standing(transcription).accuracy, 4)

    def get_vote_weight(self, transcription: Transcription) -> float:
        return round(self._standing(transcription).weight, 4)

    def get_contributor_blocked(self, transcription: Transcription) -> bool:
        return self._standing(transcription).blocked


class DecisionOutput(serializers.ModelSerializer):
    class Meta:
        model = ConsensusDecision
        fields = [
            "outcome",
            "text",
            "confidence",
            "estimated_wer",
            "reason",
            "audit",
            "transcription_count",
            "method_version",
            "decided_by",
            "created_at",
        ]


class ChunkDetailOutput(serializers.ModelSerializer):
    recording = serializers.UUIDField(source="recording_id")
    language = serializers.CharField(source="language.code")
    audio_url = serializers.SerializerMethodField()
    transcriptions = ChunkTranscriptionOutput(many=True)
    decisions = DecisionOutput(many=True)

    class Meta:
        model = Chunk
        fields = [
            "id",
            "recording",
            "index",
            "language",
            "start",
            "end",
            "duration",
            "audio_url",
            "expected_text",
            "status",
            "task_mode",
            "review_gain",
            "transcriptions_required",
            "transcriptions_received",
            "consensus_text",
            "confidence",
            "word_confidence",
            "transcriptions",
            "decisions",
        ]

    def get_audio_url(self, chunk: Chunk) -> str:
        return signed_url(chunk.audio.name, expires=settings.SIGNED_URL_SECONDS)


class ChunkDetailApi(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(responses={200: ChunkDetailOutput}, summary="A chunk with its transcriptions")
    def get(self, request, pk):
        chunk = get_object_or_404(
            Chunk.objects.select_related("language").prefetch_related(
                "transcriptions__user", "decisions"
            ),
            pk=pk,
        )
        standing = services.contributor_standings(
            [t.user_id for t in chunk.transcriptions.all()], chunk.language.code
        )
        return Response(ChunkDetailOutput(chunk, context={"standing": standing}).data)
