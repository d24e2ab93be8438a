from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = _("Live recording")

    def ready(self) -> None:
        from contributors.signals import user_erased
        from live.signals import on_user_erased

        user_erased.connect(on_user_erased, dispatch_uid="live.on_user_erased")
