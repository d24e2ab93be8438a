from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from contributors.views import agreement, faq, guidelines
from dashboard.views import home
from exports.urls import research_patterns
from shrutik.metrics import metrics_view
from shrutik.views import favicon, signed_media

api_patterns = [
    path("", include("contributors.api_urls")),
    path("", include("recordings.api_urls")),
    path("", include("transcriptions.api_urls")),
    path("", include("consensus.api_urls")),
    path("", include("dashboard.api_urls")),
    path("", include("exports.api_urls")),
    path("", include("campaigns.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    path("", home, name="home"),
    path("agreement/", agreement, name="agreement"),
    path("agreement/<str:version>/", agreement, name="agreement-version"),
    path("guidelines/", guidelines, name="guidelines"),
    path("faq/", faq, name="faq"),
    # Browsers ask for /favicon.ico on pages that name no icon (the API's JSON, files).
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", metrics_view, name="metrics"),
    path("media/signed/<str:token>/", signed_media, name="signed-media"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("accounts/", include("contributors.urls")),
    path("exports/", include("exports.urls")),
    path("research/", include(research_patterns)),
    path("", include("recordings.urls")),
    path("", include("transcriptions.urls")),
    path("", include("dashboard.urls")),
    path("", include("campaigns.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler400 = "shrutik.errors.bad_request"
handler403 = "shrutik.errors.permission_denied"
handler404 = "shrutik.errors.not_found"
handler500 = "shrutik.errors.server_error"
