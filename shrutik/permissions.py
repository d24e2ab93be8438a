"""Roles are Django groups, held explicitly: a user has exactly the roles of
their groups, and superusers (the platform's admins) hold every role.

Staff status is not a role: it only lets a user into the admin site, which
reviewers need for the review queue. It grants nothing outside the admin.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission

REVIEWER = "reviewer"
RESEARCHER = "researcher"
CONTRIBUTOR = "contributor"
ORGANISER = "organiser"


def user_has_role(user, role: str) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Groups are prefetched on the request user where it matters; the cache on
    # the instance avoids one query per permission check within a request.
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return role in cached


class IsReviewer(BasePermission):
    message = "Only reviewers can do this."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, REVIEWER)


class IsResearcher(BasePermission):
    message = "Only researchers can do this."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, RESEARCHER)


def user_may_organise(user) -> bool:
    """Organisers, and staff too: running a recording drive gives no access to
    anyone's data (participants' own recordings stay theirs), so every member of
    the team may start one without being granted the role first."""
    if user and user.is_authenticated and user.is_active and user.is_staff:
        return True
    return user_has_role(user, ORGANISER)


class IsOrganiser(BasePermission):
    message = "Only organisers can do this."

    def has_permission(self, request, view) -> bool:
        return user_may_organise(request.user)


class HasConsented(BasePermission):
    """Contributing (uploading, taking and answering tasks) needs the current
    contributor agreement; reading what one has contributed does not. A view
    names the methods that contribute in ``contributes`` (default: all)."""

    message = gettext_lazy(
        "Accept the current contributor agreement (PATCH /api/me/ with consent=true) "
        "before contributing."
    )

    def has_permission(self, request, view) -> bool:
        methods = getattr(view, "contributes", None)
        if methods is not None and request.method not in methods:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.has_consented)
