from django.urls import path
from django.views.generic import RedirectView

from transcriptions import views

# The separate transcribe and verify pages became one Contribute page where the
# server picks each task; their old addresses (bookmarks, links in messages)
# land there with the language they asked for.
_to_contribute = RedirectView.as_view(pattern_name="contribute", query_string=True)

urlpatterns = [
    path("contribute/", views.contribute, name="contribute"),
    path("transcribe/", _to_contribute, name="transcribe"),
    path("verify/", _to_contribute, name="verify"),
]
