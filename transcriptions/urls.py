from django.urls import path

from transcriptions import views

urlpatterns = [
    path("transcribe/", views.transcribe, name="transcribe"),
    path("verify/", views.verify, name="verify"),
]
