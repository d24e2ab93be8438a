from django.urls import path

from contributors import api

urlpatterns = [
    path("auth/register/", api.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", api.ThrottledTokenObtainPairView.as_view(), name="api-token"),
    path("auth/token/refresh/", api.ThrottledTokenRefreshView.as_view(), name="api-token-refresh"),
    path("me/", api.MeApi.as_view(), name="api-me"),
]
