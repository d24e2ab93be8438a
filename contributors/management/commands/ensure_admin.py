import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from contributors.models import User


class Command(BaseCommand):
    help = "Create the admin account if it does not exist, printing its new password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, username: str, email: str, **options):
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin account '{username}' already exists (password unchanged).")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(
            username=username,
            email=email,
            password=password,
            consent_version=settings.CONSENT_VERSION,
            consent_at=timezone.now(),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Created admin account '{username}' with password: {password}")
        )
