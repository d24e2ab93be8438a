from django.urls import path

from transcriptions import api

urlpatterns = [
    path("tasks/next/", api.TaskNextApi.as_view(), name="api-task-next"),
    path("tasks/<uuid:chunk_id>/skip/", api.TaskReleaseApi.as_view(), name="api-task-skip"),
    path("tasks/<uuid:chunk_id>/report/", api.TaskReportApi.as_view(), name="api-task-report"),
    path("tasks/<uuid:chunk_id>/release/", api.TaskGiveBackApi.as_view(), name="api-task-release"),
    path("tasks/<uuid:chunk_id>/verify/", api.TaskVerifyApi.as_view(), name="api-task-verify"),
    path("transcriptions/", api.TranscriptionListCreateApi.as_view(), name="api-transcriptions"),
]
