from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import signals
        from consensus.signals import chunk_decided
        from contributors.signals import user_erased
        from live.signals import reading_started
        from recordings.signals import recording_status_changed, script_preference

        recording_status_changed.connect(
            signals.on_recording_status_changed, dispatch_uid="campaigns.recording_status"
        )
        chunk_decided.connect(signals.on_chunk_decided, dispatch_uid="campaigns.chunk_decided")
        reading_started.connect(signals.on_reading_started, dispatch_uid="campaigns.started")
        script_preference.connect(
            signals.on_script_preference, dispatch_uid="campaigns.script_preference"
        )
        user_erased.connect(signals.on_user_erased, dispatch_uid="campaigns.user_erased")
