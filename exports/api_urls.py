from django.urls import path

from exports import api

urlpatterns = [
    path("exports/", api.ExportListCreateApi.as_view(), name="api-exports"),
    path("exports/<uuid:pk>/", api.ExportDetailApi.as_view(), name="api-export"),
    path("exports/<uuid:pk>/archive/", api.ExportArchiveApi.as_view(), name="api-export-archive"),
]
