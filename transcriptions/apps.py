from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TranscriptionsConfig(AppConfig):
    name = "transcriptions"
    verbose_name = _("Transcriptions")

    def ready(self) -> None:
        from contributors.signals import user_blocked
        from transcriptions.signals import on_user_blocked

        user_blocked.connect(on_user_blocked, dispatch_uid="transcriptions.on_user_blocked")
