from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = _("Recordings")

    def ready(self) -> None:
        from contributors.signals import user_erased
        from recordings import checks  # noqa: F401  (registers the system check)
        from recordings.signals import on_user_erased

        user_erased.connect(on_user_erased, dispatch_uid="recordings.on_user_erased")
