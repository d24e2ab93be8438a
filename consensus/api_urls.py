from django.urls import path

from consensus import api

urlpatterns = [
    path("chunks/<uuid:pk>/", api.ChunkDetailApi.as_view(), name="api-chunk"),
]
