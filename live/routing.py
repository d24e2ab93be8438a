from django.urls import path

from live.consumers import RecordConsumer

websocket_urlpatterns = [
    path("ws/record/", RecordConsumer.as_asgi()),
]
