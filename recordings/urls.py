from django.urls import path

from recordings import views

urlpatterns = [
    path("record/", views.record, name="record"),
]
