from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = _("Exports")

    def ready(self) -> None:
        from contributors.signals import user_erased
        from exports.signals import on_user_erased

        user_erased.connect(on_user_erased, dispatch_uid="exports.on_user_erased")
