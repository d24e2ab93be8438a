from django.urls import path

from dashboard import api

urlpatterns = [
    path("stats/", api.StatsApi.as_view(), name="api-stats"),
]
