from django.apps import AppConfig


class ShrutikConfig(AppConfig):
    """The project package as an app: shared tasks and management commands."""

    name = "shrutik"
    verbose_name = "Shrutik"
