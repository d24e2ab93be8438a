"""Who is on the socket: the session cookie (AuthMiddlewareStack) or a JWT access token."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from contributors.authentication import JWTAuthentication


def user_from_token(token: str):
    """The active user a JWT access token names, or None if it is not valid."""
    try:
        raw = token.encode()
    except UnicodeEncodeError:
        # A lone surrogate, which a JSON "\ud800" escape can put in a string: no token has one.
        return None
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw)
        return auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None


def user_from_scope(scope):
    user = scope.get("user") or AnonymousUser()
    return user if user.is_authenticated and user.is_active else None
