from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContributorsConfig(AppConfig):
    name = "contributors"
    verbose_name = _("Contributors")

    def ready(self) -> None:
        from contributors import checks  # noqa: F401  (registers the system check)
