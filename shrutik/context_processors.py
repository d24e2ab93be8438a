"""Template context shared by every page."""

from __future__ import annotations

from shrutik.licences import export_licence
from shrutik.permissions import RESEARCHER, user_has_role


def roles(request) -> dict:
    """Whether the visitor may see the researchers' pages (for the navigation)."""
    user = getattr(request, "user", None)
    return {"is_researcher": user_has_role(user, RESEARCHER)}


def licence(request) -> dict:
    """The licence datasets are published under, stated on every page that asks
    for a contribution (and in the footer)."""
    return {"data_licence": export_licence()}
