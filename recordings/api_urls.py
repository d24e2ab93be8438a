from django.urls import path

from recordings import api

urlpatterns = [
    path("languages/", api.LanguageListApi.as_view(), name="api-languages"),
    path("scripts/next/", api.ScriptNextApi.as_view(), name="api-script-next"),
    path("scripts/<int:pk>/report/", api.ScriptReportApi.as_view(), name="api-script-report"),
    path("recordings/", api.RecordingListCreateApi.as_view(), name="api-recordings"),
    path("recordings/<uuid:pk>/", api.RecordingDetailApi.as_view(), name="api-recording"),
]
