from django.apps import AppConfig


class ShrutikConfig(AppConfig):
    """The project package as an app: shared tasks and management commands."""

    name = "shrutik"
    verbose_name = "Shrutik"

    def ready(self) -> None:
        from shrutik.logging import redact_server_logs

        # Runs after Django has configured logging, in every web process.
        redact_server_logs()
