"""System check: the contributor agreement a contributor must accept has a text."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.template import TemplateDoesNotExist
from django.template.loader import get_template


@checks.register(checks.Tags.templates)
def agreement_text_exists(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from contributors.views import agreement_template

    name = agreement_template(settings.CONSENT_VERSION)
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return [
            checks.Error(
                f"CONSENT_VERSION is {settings.CONSENT_VERSION!r} but the agreement has no "
                f"text for it: contributors would be asked to accept a page that is not there.",
                hint=f"Add templates/{name} (copy the previous version and change it).",
                id="contributors.E001",
            )
        ]
    return []
