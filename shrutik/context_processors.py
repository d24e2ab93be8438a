"""Template context shared by every page."""

from __future__ import annotations

from shrutik.permissions import RESEARCHER, user_has_role


def roles(request) -> dict:
    """Whether the visitor may see the researchers' pages (for the navigation)."""
    user = getattr(request, "user", None)
    return {"is_researcher": user_has_role(user, RESEARCHER)}
