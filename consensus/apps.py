from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ConsensusConfig(AppConfig):
    name = "consensus"
    verbose_name = _("Consensus and review")

    def ready(self) -> None:
        from consensus.signals import on_chunk_transcribed, on_user_blocked
        from contributors.signals import user_blocked
        from transcriptions.signals import chunk_transcribed

        chunk_transcribed.connect(on_chunk_transcribed, dispatch_uid="consensus.decide")
        user_blocked.connect(on_user_blocked, dispatch_uid="consensus.on_user_blocked")
        post_migrate.connect(grant_reviewer_permissions, sender=self)


# What reviewers need in the admin: the review queue, and read access to the
# recordings, chunks and transcriptions behind it.
REVIEWER_PERMISSIONS = [
    ("consensus", "view_reviewchunk"),
    ("consensus", "change_reviewchunk"),
    ("consensus", "view_consensusdecision"),
    ("recordings", "view_recording"),
    ("recordings", "view_chunk"),
    ("transcriptions", "view_transcription"),
]


def grant_reviewer_permissions(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    group, _created = Group.objects.get_or_create(name="reviewer")
    for app_label, codename in REVIEWER_PERMISSIONS:
        perm = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if perm is not None:
            group.permissions.add(perm)
