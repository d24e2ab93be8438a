from django.urls import path

from live.consumers import RecordConsumer
from live.origin import OriginValidator

websocket_urlpatterns = [
    path("ws/record/", OriginValidator(RecordConsumer.as_asgi())),
]
