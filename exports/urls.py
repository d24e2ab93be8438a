from django.urls import path

from exports import views

urlpatterns = [
    path("", views.export_page, name="exports"),
]
