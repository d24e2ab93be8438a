"""The one licence datasets are published under (``EXPORT_LICENCE``), named the
same way wherever it is stated: the contributor agreement, sign-up, the record
page and every export's datasheet."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Licence:
    spdx: str  # SPDX identifier, e.g. CC-BY-4.0
    name: str | Promise  # in the reader's language where we have it
    url: str

    @property
    def hub_id(self) -> str:
        """The id the Hugging Face dataset card's ``license`` field takes."""
        return self.spdx.lower()


KNOWN = {
    lic.spdx: lic
    for lic in (
        Licence(
            "CC-BY-4.0",
            _("Creative Commons Attribution 4.0 International"),
            "https://creativecommons.org/licenses/by/4.0/",
        ),
        Licence(
            "CC-BY-SA-4.0",
            _("Creative Commons Attribution-ShareAlike 4.0 International"),
            "https://creativecommons.org/licenses/by-sa/4.0/",
        ),
        Licence(
            "CC0-1.0",
            _("Creative Commons Zero 1.0 Universal (public domain dedication)"),
            "https://creativecommons.org/publicdomain/zero/1.0/",
        ),
    )
}


def licence_get(spdx: str) -> Licence:
    """The licence an SPDX id names; one this module does not know points at SPDX's page."""
    return KNOWN.get(spdx) or Licence(spdx, spdx, f"https://spdx.org/licenses/{spdx}.html")


def export_licence() -> Licence:
    return licence_get(settings.EXPORT_LICENCE)
