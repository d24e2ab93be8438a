from django.urls import path

from dashboard import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/my-data.zip", views.my_data_download, name="my-data-download"),
    path("dashboard/recordings/<uuid:recording_id>/", views.my_recording, name="my-recording"),
]
