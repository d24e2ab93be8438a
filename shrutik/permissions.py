"""Roles are Django groups, held explicitly: a user has exactly the roles of
their groups, and superusers (the platform's admins) hold every role.

Staff status is not a role: it only lets a user into the admin site, which
reviewers need for the review queue. It grants nothing outside the admin.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

REVIEWER = "reviewer"
RESEARCHER = "researcher"
CONTRIBUTOR = "contributor"


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
