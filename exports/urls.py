from django.urls import path

from exports import views

urlpatterns = [
    path("", views.export_page, name="exports"),
]

# Under /research/: how a researcher gets access to the datasets.
research_patterns = [
    path("access/", views.access_page, name="research-access"),
]
