"""The public platform statistics."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import selectors

StatsOutput = inline_serializer(
    "Stats",
    {
        "hours_recorded": serializers.FloatField(),
        "hours_validated": serializers.FloatField(),
        "hours_accepted": serializers.FloatField(
            help_text="Hours the crowd settled below the validated bar (not validated)."
        ),
        "recordings": serializers.IntegerField(),
        "chunks": serializers.DictField(child=serializers.IntegerField()),
        "contributors": serializers.IntegerField(),
        "transcribers": serializers.IntegerField(),
        "transcriptions": serializers.IntegerField(),
        "languages": serializers.DictField(),
        "generated_at": serializers.DateTimeField(),
    },
)


class StatsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: StatsOutput}, summary="Platform totals, per language")
    def get(self, request):
        # Aggregates over millions of rows are computed at most once a minute per
        # cluster, whatever the traffic: the figures are for humans.
        return Response(selectors.platform_stats_cached())
