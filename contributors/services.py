"""Writes on contributors: registration, profile, consent, roles, blocking, erasure."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from contributors.models import PROFILE_FIELDS, User
from contributors.signals import user_blocked, user_erased
from shrutik.permissions import CONTRIBUTOR, REVIEWER


class UsernameTaken(Exception):
    """Another account has this username, in some letter case."""


def user_register(
    *, username: str, password: str, email: str = "", consent_version: str, **profile: Any
) -> User:
    """Create a contributor who has accepted ``consent_version``.

    The caller has validated the password and that the version is current; the
    role is always ``contributor`` — other roles are granted by admins only.
    Raises UsernameTaken when the name is in use ignoring case, including when a
    concurrent registration took it after the caller checked.
    """
    try:
        with transaction.atomic():
            user = User(username=username, email=email)
            for field, value in profile.items():
                if field in PROFILE_FIELDS:
                    setattr(user, field, value)
            user.set_password(password)
            user.consent_version = consent_version
            user.consent_at = timezone.now()
            user.save()
            user_set_roles(user=user, roles={CONTRIBUTOR})
    except IntegrityError:
        if User.objects.filter(username__iexact=username).exists():
            raise UsernameTaken(username) from None
        raise
    return user


def user_update_profile(*, user: User, **changes: Any) -> User:
    fields = [f for f in changes if f in PROFILE_FIELDS]
    for field in fields:
        setattr(user, field, changes[field])
    if fields:
        user.save(update_fields=fields)
    return user


def user_give_consent(*, user: User, version: str) -> User:
    user.consent_version = version
    user.consent_at = timezone.now()
    user.save(update_fields=["consent_version", "consent_at"])
    return user


def user_withdraw_consent(*, user: User) -> User:
    """Withdrawn consent keeps the account but stops contributions and exports."""
    user.consent_version = ""
    user.consent_at = None
    user.save(update_fields=["consent_version", "consent_at"])
    return user


def user_set_roles(*, user: User, roles: set[str]) -> User:
    """Give ``user`` exactly ``roles`` among the role groups (other groups stay).

    Staff status follows the roles: reviewers need it for the admin's review
    queue, and nobody else but superusers keeps it, so taking the reviewer role
    away also closes the admin. Staff status grants no role by itself.
    """
    unknown = roles - set(settings.ROLE_GROUPS)
    if unknown:
        raise ValueError(f"Unknown roles: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in settings.ROLE_GROUPS}
        user.groups.remove(*(group for name, group in groups.items() if name not in roles))
        user.groups.add(*(groups[name] for name in roles))
        is_staff = user.is_superuser or REVIEWER in roles
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
    # A role check earlier in this request cached the old roles on the instance.
    user.__dict__.pop("_role_names", None)
    return user


def _blacklist_tokens(user_ids) -> None:
    """End the users' signed-in sessions: their refresh tokens stop working."""
    for token in OutstandingToken.objects.filter(user_id__in=user_ids):
        BlacklistedToken.objects.get_or_create(token=token)


def user_set_blocked(*, user_ids, blocked: bool, by: User | None = None) -> list[int]:
    """Block contributors (they can no longer sign in, and their transcriptions
    stop counting in decisions) or unblock them. Erased accounts and the acting
    admin are left alone. Returns the ids whose standing changed."""
    with transaction.atomic():
        rows = User.objects.select_for_update().filter(
            pk__in=user_ids, erased_at__isnull=True, is_active=blocked
        )
        if by is not None:
            rows = rows.exclude(pk=by.pk)
        changed = sorted(rows.values_list("pk", flat=True))
        User.objects.filter(pk__in=changed).update(is_active=not blocked)
        if blocked:
            _blacklist_tokens(changed)
        if changed:
            transaction.on_commit(
                lambda: user_blocked.send(sender=User, user_ids=changed, blocked=blocked)
            )
    return changed


def user_erase(*, user: User, delete_recordings: bool = False) -> None:
    """Erase a contributor's personal data and sign them out everywhere.

    The row stays (as an anonymous, inactive user) so that decided chunks keep
    their provenance counts; every identifying field is cleared, and an erased
    contributor never appears in a new export. With ``delete_recordings`` the
    recordings app also deletes their audio.
    """
    user_id = user.pk
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.erased_at is not None:
            return
        # Failed-login records name the account: they go with it.
        AccessAttempt.objects.filter(username=user.username).delete()
        user.username = f"erased-{uuid.uuid4().hex[:16]}"
        user.email = ""
        user.first_name = user.last_name = user.display_name = ""
        user.age_range = user.gender = user.native_language = user.dialect = ""
        user.consent_version = ""
        user.consent_at = None
        user.show_on_leaderboard = False
        user.is_active = False
        user.is_staff = user.is_superuser = False
        user.set_unusable_password()
        user.erased_at = timezone.now()
        user.save()
        user.groups.clear()
        _blacklist_tokens([user_id])
        transaction.on_commit(
            lambda: user_erased.send(
                sender=User, user_id=user_id, delete_recordings=delete_recordings
            )
        )


def refresh_token_spend(*, token: RefreshToken, user: User) -> RefreshToken:
    """Spend a verified refresh token of ``user`` and return its successor.

    A refresh token works once. Of concurrent refreshes with the same token,
    the blacklist's one-entry-per-token constraint lets exactly one through;
    the others get a TokenError. The successor is recorded in the same
    transaction, so a refresh that fails issues nothing.
    """
    with transaction.atomic():
        spent, _created = OutstandingToken.objects.get_or_create(
            jti=token[jwt_settings.JTI_CLAIM],
            defaults={
                "user": user,
                "token": str(token),
                "created_at": timezone.now(),
                "expires_at": datetime_from_epoch(token["exp"]),
            },
        )
        try:
            with transaction.atomic():
                BlacklistedToken.objects.create(token=spent)
        except IntegrityError:
            raise TokenError(_("Token is blacklisted")) from None
        return RefreshToken.for_user(user)


def password_reset_allowed(*, email: str, client: str | None) -> bool:
    """Count one reset e-mail asked for ``email`` from ``client``; False once
    either has asked PASSWORD_RESET_PER_HOUR times this hour.

    Counted in the cache (Redis when deployed): a cache that is down counts
    nothing and lets the request through, like the throttles.
    """
    limit = settings.PASSWORD_RESET_PER_HOUR
    allowed = True
    for key in (f"pwreset:email:{email.strip().lower()}", f"pwreset:client:{client or '-'}"):
        try:
            cache.add(key, 0, timeout=3600)
            allowed = cache.incr(key) <= limit and allowed
        except ValueError:  # expired between add and incr, or the cache is away
            continue
    return allowed


def admin_ensure(*, username: str = "admin", email: str = "admin@localhost") -> str | None:
    """Create the superuser ``username`` unless it exists; return its new
    one-time password, or None when the account was already there."""
    if User.objects.filter(username=username).exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(
        username=username,
        email=email,
        password=password,
        consent_version=settings.CONSENT_VERSION,
        consent_at=timezone.now(),
    )
    return password
