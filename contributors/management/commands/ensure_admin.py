from django.core.management.base import BaseCommand

from contributors.services import admin_ensure


class Command(BaseCommand):
    help = "Create the admin account if it does not exist, printing its new password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, username: str, email: str, **options):
        password = admin_ensure(username=username, email=email)
        if password is None:
            self.stdout.write(f"Admin account '{username}' already exists (password unchanged).")
            return
        self.stdout.write(
            self.style.SUCCESS(f"Created admin account '{username}' with password: {password}")
        )
