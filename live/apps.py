from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live recording"

    def ready(self) -> None:
        from contributors.signals import user_erased
        from live.signals import on_user_erased

        user_erased.connect(on_user_erased, dispatch_uid="live.on_user_erased")
