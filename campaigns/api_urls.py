from django.urls import path

from campaigns import api

urlpatterns = [
    path("campaigns/", api.CampaignListCreateApi.as_view(), name="api-campaigns"),
    path("campaigns/join/", api.CampaignJoinApi.as_view(), name="api-campaign-join"),
    path("campaigns/<int:pk>/", api.CampaignDetailApi.as_view(), name="api-campaign"),
    path("campaigns/<int:pk>/qr.svg", api.CampaignQrApi.as_view(), name="api-campaign-qr"),
    path("campaigns/<int:pk>/leave/", api.CampaignLeaveApi.as_view(), name="api-campaign-leave"),
    *(
        path(
            f"campaigns/<int:pk>/{action}/",
            api.CampaignStatusApi.as_view(action=action),
            name=f"api-campaign-{action}",
        )
        for action in ("pause", "resume", "close")
    ),
]
