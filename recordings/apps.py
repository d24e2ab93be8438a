from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
    verbose_name = "Recordings"

    def ready(self) -> None:
        from contributors.signals import user_erased
        from recordings.signals import on_user_erased

        user_erased.connect(on_user_erased, dispatch_uid="recordings.on_user_erased")
