from django.urls import path

from exports import api

urlpatterns = [
    path("exports/", api.ExportListCreateApi.as_view(), name="api-exports"),
    path("exports/preview/", api.ExportPreviewApi.as_view(), name="api-export-preview"),
    path("exports/<uuid:pk>/", api.ExportDetailApi.as_view(), name="api-export"),
    path("exports/<uuid:pk>/archive/", api.ExportArchiveApi.as_view(), name="api-export-archive"),
    path("research/access/", api.AccessRequestApi.as_view(), name="api-research-access"),
]
