from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """What people see of the platform's progress and of their own work: totals,
    the hours chart, leaderboards, a contributor's dashboard and their data."""

    name = "dashboard"
    verbose_name = _("Dashboard")
