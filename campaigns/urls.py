from django.urls import path

from campaigns import views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/new/", views.campaign_new, name="campaign-new"),
    path("campaigns/join/", views.campaign_join, name="campaign-join"),
    path("c/<str:code>", views.campaign_join_link, name="campaign-join-link"),
    path("campaigns/<int:pk>/", views.campaign_page, name="campaign"),
    path("campaigns/<int:pk>/wall/", views.campaign_wall, name="campaign-wall"),
]
urlpatterns += [
    path(
        f"campaigns/<int:pk>/{action}/",
        views.campaign_action,
        {"action": action},
        name=f"campaign-{action}",
    )
    for action in ("pause", "resume", "close", "leave")
]
